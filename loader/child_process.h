// Starting the programs ubc runs (a host tool, CRIU, ssh, a command in a CT), waiting for
// the child processes it forks and reading what they report back through a pipe.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace ubc {

// Whether a spawned program dies with the process that spawned it (PR_SET_PDEATHSIG).
enum class OnParentDeath { kill, live_on };

// What the child does between fork and exec: returns what it failed at (errno set), or
// nullptr. It runs in the forked child of a parent that may have other threads: it must not
// allocate or take a lock.
using ChildSetup = std::function<const char*()>;

// Forks and execs argv (PATH search) after `setup`; returns the child's pid. In the child,
// a failed setup prints "PROGRAM: WHAT: ERROR" on its stderr and exits 126; a failed exec
// prints the same and exits 127 (not found) or 126, as a shell does.
pid_t spawn_program(const std::vector<std::string>& argv, const ChildSetup& setup, OnParentDeath on_parent_death);

// Waits for `child` to end: its exit status, or 128+N when signal N killed it (the shell's
// convention). Throws ubc::SystemError when waitpid fails.
int wait_for_exit(pid_t child);

// Everything written into `fd` (a pipe's read end) until its last writer closed it.
std::string read_until_closed(int fd);

}  // namespace ubc
