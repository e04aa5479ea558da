// What every process ubc starts in a CT shares (init, exec, enter): its environment, its
// identity in the CT's user namespace, and the exec that searches the CT's PATH.
#pragma once

#include <string>
#include <vector>

namespace ubc {

// The environment a CT's processes start with: nothing of the host's but the terminal type.
std::vector<std::string> ct_environment();

// Execs `argv` with ct_environment(), searching the CT's PATH; throws if it cannot.
[[noreturn]] void exec_in_ct(const std::vector<std::string>& argv);

// Makes the calling process root (uid and gid 0, no supplementary groups) in the user
// namespace it is in.
void become_ct_root();

}  // namespace ubc
