#include "command_race.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "loader/error.h"

namespace ubc::bench {

namespace {

// The child: async-signal-safe calls only between fork and exec.
[[noreturn]] void run_child(const std::string& procs, char* const argv[], int start_fd) {
  const int cgroup = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
  if (cgroup < 0 || ::write(cgroup, "0", 1) != 1) ::_exit(120);
  ::close(cgroup);
  const int null = ::open("/dev/null", O_WRONLY);
  if (null < 0 || ::dup2(null, STDOUT_FILENO) < 0) ::_exit(121);
  char go = 0;
  if (::read(start_fd, &go, 1) != 0) ::_exit(122);  // EOF: the parent closed the pipe
  ::execvp(argv[0], argv);
  ::_exit(127);
}

}  // namespace

CommandRace::~CommandRace() {
  for (const pid_t child : children_) ::kill(child, SIGKILL);
  for (const pid_t child : children_) ::waitpid(child, nullptr, 0);
}

void CommandRace::add(const std::filesystem::path& cgroup, const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("CommandRace::add: no command");
  if (!start_read_) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC)) throw_system_error("pipe2(start)");
    start_read_.reset(fds[0]);
    start_write_.reset(fds[1]);
  }
  const std::string procs = (cgroup / "cgroup.procs").string();
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw_system_error("fork(" + argv[0] + ")");
  if (pid == 0) {
    start_write_.reset();
    run_child(procs, args.data(), start_read_.get());
  }
  children_.push_back(pid);
}

double CommandRace::run() {
  const auto start = std::chrono::steady_clock::now();
  start_write_.reset();  // every child reads EOF at once
  std::string failures;
  for (const pid_t child : children_) {
    int status = 0;
    if (::waitpid(child, &status, 0) < 0) throw_system_error("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failures += " " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  children_.clear();
  start_read_.reset();
  if (!failures.empty())
    throw std::runtime_error("commands failed with status" + failures +
                             " (120: joining the cgroup, 122: start, 127: exec)");
  return took.count();
}

}  // namespace ubc::bench
