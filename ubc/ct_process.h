// What every process ubc starts in a CT shares (init, exec, enter): its environment, its
// identity in the CT's user namespace, and the exec that searches the CT's PATH.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "loader/unique_fd.h"

namespace ubc {

// The environment a CT's processes start with: nothing of the host's but the terminal type.
std::vector<std::string> ct_environment();

// Execs `argv` with ct_environment(), searching the CT's PATH; throws if it cannot.
[[noreturn]] void exec_in_ct(const std::vector<std::string>& argv);

// root's home and login shell in a CT's /etc/passwd text (its line's 6th and 7th fields);
// /root and /bin/sh where it has none, or gives no absolute path.
struct LoginAccount {
  std::string home = "/root";
  std::string shell = "/bin/sh";
};
LoginAccount root_login_account(const std::string& passwd);

// Execs root's login shell as login(1) would (argv[0] "-bash", HOME, SHELL, USER, LOGNAME),
// reading the CT's /etc/passwd by hand: glibc's NSS would load the CT's libraries.
[[noreturn]] void exec_login_shell();

// Where the CT's /proc view server takes the seccomp listener of an `exec` or `enter`
// (ubc/ct_call_service.h): root's only.
std::filesystem::path ct_call_socket(const std::string& ctid);
// Before joining the CT: a connection to that server, or an invalid fd when the CT has none
// (a plain procfs), and sysinfo and quotactl stay the kernel's.
UniqueFd connect_ct_call_service(const std::string& ctid);

// Makes the calling process root (uid and gid 0, no supplementary groups) in the user
// namespace it is in.
void become_ct_root();

}  // namespace ubc
