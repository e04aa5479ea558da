// Waiting for the child processes ubc forks (a step run in a CT's namespaces, a helper
// tool) and reading what they report back through a pipe.
#pragma once

#include <sys/types.h>

#include <string>

namespace ubc {

// Waits for `child` to end: its exit status, or 128+N when signal N killed it (the shell's
// convention). Throws ubc::SystemError when waitpid fails.
int wait_for_exit(pid_t child);

// Everything written into `fd` (a pipe's read end) until its last writer closed it.
std::string read_until_closed(int fd);

}  // namespace ubc
