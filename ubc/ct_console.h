// A CT's terminals, relayed to the caller's: `enter`'s shell on a pty of the CT's own devpts
// (so it counts in the CT's numpty, as vzctl enter's did), and its console, a pty of the
// host's whose master ubc-console keeps (`console`).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "loader/unique_fd.h"

namespace ubc {

// A CT's console: the slave is its init's stdio and its /dev/console, owned by the CT's root.
struct ConsolePty {
  UniqueFd master;
  UniqueFd slave;
  std::filesystem::path slave_path;  // /dev/pts/N on the host
};
ConsolePty open_console_pty(unsigned ct_root_host_id);

// Where ubc-console takes a `console` client: run_dir()/CT.console.sock, root's only.
std::filesystem::path console_socket(const std::string& ctid);

// Relays the caller's terminal (raw meanwhile) to the console at `socket` until the caller
// types Esc then '.', or its input ends. Throws when the console cannot be reached.
void attach_console(const std::string& ctid, const std::filesystem::path& socket);

// Joins `cgroup_procs`' cgroup and the namespaces of `init_pid`, opens a pty there and calls
// `exec_shell` (which must exec) on its slave as a new session; relays the caller's stdin and
// stdout to it, the caller's terminal in raw mode meanwhile. Returns the shell's exit status.
int run_on_ct_pty(pid_t init_pid, const std::string& cgroup_procs, const std::function<void()>& exec_shell);

}  // namespace ubc
