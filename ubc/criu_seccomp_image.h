// A checkpoint's seccomp filters, made ready for a restore that supervises the CT's calls
// again. CRIU saves each task's filters (seccomp.img) and loads them again at restore, but
// not their listeners: the kernel gives a listener only to whoever installs a filter, and
// a filter that notifies with nobody listening fails the call with ENOSYS (sysinfo and
// quotactl in every restored process). So a restore (ubc/ct_checkpoint.cpp) puts a filter
// of its own, with a listener, over CRIU, which every restored task inherits under the ones
// CRIU loads; and the saved filters' notifications become SECCOMP_RET_TRACE here, which
// ranks after a notification: the restore's filter answers those calls. Should it be
// missing, the calls still fail with ENOSYS (a trace with no tracer that asked for it),
// and never reach the host's kernel unanswered.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace ubc {

// In `image` (seccomp.img's bytes: CRIU's two magics, then size-prefixed protobuf
// entries), every classic BPF `ret SECCOMP_RET_USER_NOTIF` of every filter becomes `ret
// SECCOMP_RET_TRACE`, in place (the image keeps its size). Returns how many; throws
// std::runtime_error when the image is not one CRIU wrote.
std::size_t trace_instead_of_notify(std::string& image);

// The same, on the file `seccomp.img` in the checkpoint `dir` (none there: a dump of tasks
// without a filter, nothing to do). Idempotent: a restore that failed leaves it done.
std::size_t trace_instead_of_notify_in(const std::filesystem::path& dir);

}  // namespace ubc
