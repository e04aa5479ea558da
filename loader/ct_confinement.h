// What a process gives up on its way into a CT, after its namespaces and before it execs
// the CT's program: every capability but the CT's, the right to real-time scheduling, and
// the system calls the seccomp filter refuses (loader/seccomp_policy.h).
#pragma once

#include <sys/types.h>

#include "loader/ct_capabilities.h"

namespace ubc::ns {

// Sets RLIMIT_RTPRIO to 0 (soft and hard: without CAP_SYS_RESOURCE it stays there), loads
// the CT's seccomp filter, drops every capability outside `granted` from the bounding set,
// and leaves `granted` as the permitted and effective sets, nothing inheritable or ambient.
// A root program the process execs gets `granted`, and nothing can add to it again.
// `call_server` (a socket to the CT's /proc view server, or -1): the calls the host answers
// for the CT (sysinfo, quotactl) go to that server, which gets the seccomp listener over it.
void confine_to_ct(CapabilitySet granted, int call_server = -1);

// The capability bounding set of `pid` (CapBnd in /proc/PID/status): for a running CT's
// init, the capabilities the CT was started with (its root can only have dropped some).
CapabilitySet bounding_set_of(pid_t pid);

// A host process that joins a running CT (exec, enter) can be read through /proc by the
// CT's processes until it execs; not dumpable, it cannot (ptrace, /proc/PID/mem, exe, fd).
void hide_from_ct_processes();

}  // namespace ubc::ns
