#include "loader/child_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "loader/error.h"

namespace ubc {

pid_t spawn_program(const std::vector<std::string>& argv, const ChildSetup& setup, OnParentDeath on_parent_death) {
  if (argv.empty()) throw std::invalid_argument("spawn_program: no program to run");
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) throw_system_error("fork");
  if (child != 0) return child;
  // The parent may have died before the death signal was set: then nobody waits for us.
  if (on_parent_death == OnParentDeath::kill && (::prctl(PR_SET_PDEATHSIG, SIGKILL) || ::getppid() != parent))
    ::_exit(125);
  if (const char* failed = setup ? setup() : nullptr) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, failed, std::strerror(errno));
    ::_exit(126);
  }
  ::execvp(args[0], args.data());
  const int error = errno;
  std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, args[0], std::strerror(error));
  ::_exit(error == ENOENT ? 127 : 126);
}

int wait_for_exit(pid_t child) {
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) throw_system_error("waitpid(" + std::to_string(child) + ")");
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

std::string read_until_closed(int fd) {
  std::string text;
  char buffer[512];
  for (ssize_t got; (got = ::read(fd, buffer, sizeof buffer)) != 0;) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  return text;
}

}  // namespace ubc
