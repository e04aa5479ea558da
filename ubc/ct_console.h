// `ubcctl enter`: an interactive shell inside a running CT on a pty of the CT's own devpts
// (so it counts in the CT's numpty, as vzctl enter's did), relayed to the caller's terminal.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace ubc {

// Joins `cgroup_procs`' cgroup and the namespaces of `init_pid`, opens a pty there and calls
// `exec_shell` (which must exec) on its slave as a new session; relays the caller's stdin and
// stdout to it, the caller's terminal in raw mode meanwhile. Returns the shell's exit status.
int run_on_ct_pty(pid_t init_pid, const std::string& cgroup_procs, const std::function<void()>& exec_shell);

}  // namespace ubc
