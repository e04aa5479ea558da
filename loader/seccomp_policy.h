// The seccomp filter every process of a CT runs under (libseccomp): the system calls that
// reach past the CT's namespaces to the host's kernel (modules, kexec, the kernel keyring,
// file handles, perf, BPF, the clock, swap, accounting, io_uring ...) are refused with the
// errno a program expects, unless the CT was granted the capability that the call needs
// (`set CT --capability sys_time:on` lets it set the clock, as Docker's profile does).
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "loader/ct_capabilities.h"
#include "loader/unique_fd.h"

namespace ubc::seccomp {

struct RefusedCall {
  const char* name;       // as libseccomp names it
  int error;              // EPERM, or ENOSYS where callers fall back on "not implemented"
  int unless_capability;  // granted with this capability; -1: never
};

// The table the filter is built from, one row per call (also what docs and tests read).
const std::vector<RefusedCall>& refused_calls();

// Loads the filter into the calling thread, which its children and exec'd programs keep.
// Without no_new_privs (setuid programs in the CT work), so the caller must still hold
// CAP_SYS_ADMIN in its user namespace: call it before dropping capabilities. 32-bit (x86,
// x32) entry points get the same rules; any other architecture is killed.
// With `supervised`, calls the host answers for the CT go to a supervisor (seccomp user
// notification, ubc/ct_call_service.h): sysinfo(2), answered with the CT's own memory, load
// and uptime, and in a CT with a user namespace of its own quotactl(2) and quotactl_fd(2),
// its second-level disk quota (refused as above otherwise). Returns the filter's listener,
// for the CT's /proc view server. The CT's processes then cannot install a notifying filter
// of their own (the kernel allows one listener per filter chain).
UniqueFd install_ct_filter(CapabilitySet granted, bool supervised = false);

// The calls install_ct_filter's `supervised` notifies, alone (quotactl and quotactl_fd with
// `serve_quota`: a CT with a user namespace), and every other call allowed on every
// architecture: a filter to stack over the CT's own, which refuses the rest. What a restore
// loads on CRIU, whose restored tasks inherit it (ubc/criu_seccomp_image.h), as a program
// to load between fork and exec.
std::vector<sock_filter> served_calls_program(bool serve_quota);

// Loads `program` on the calling thread (no no_new_privs: CAP_SYS_ADMIN is needed) and
// returns its listener, or -1 with errno set. Allocates nothing: for a forked child.
int load_notifying_program(const std::vector<sock_filter>& program) noexcept;

}  // namespace ubc::seccomp
