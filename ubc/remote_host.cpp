#include "ubc/remote_host.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "loader/child_process.h"
#include "loader/error.h"
#include "loader/unique_fd.h"

namespace ubc {

namespace {

std::string command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) line += (line.empty() ? "" : " ") + shell_quote(arg);
  return line;
}

struct Pipe {
  UniqueFd read, write;
};

Pipe make_pipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC)) throw_system_error("pipe2");
  return {UniqueFd(ends[0]), UniqueFd(ends[1])};
}

// Forks `argv` with `in` and `out` as its stdin and stdout (-1: inherited) and stderr as
// `err` (-1: inherited). It dies with ubcctl.
pid_t spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) throw_system_error("fork");
  if (child == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) || ::getppid() != parent) ::_exit(125);
    if ((in >= 0 && ::dup2(in, 0) < 0) || (out >= 0 && ::dup2(out, 1) < 0) || (err >= 0 && ::dup2(err, 2) < 0))
      ::_exit(126);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "ubcctl: %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  return child;
}

}  // namespace

std::string shell_quote(const std::string& word) {
  if (!word.empty() &&
      word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%_-+=:,./") ==
          std::string::npos)
    return word;
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

RemoteHost::RemoteHost(std::string destination, std::vector<std::string> ssh_options)
    : destination_(std::move(destination)), ssh_options_(std::move(ssh_options)) {
  if (destination_.empty() || destination_.starts_with("-"))
    throw std::invalid_argument("'" + destination_ + "' is not a host to migrate to");
}

std::vector<std::string> RemoteHost::ssh_argv(const std::vector<std::string>& remote_argv) const {
  std::vector<std::string> argv{"ssh", "-o", "BatchMode=yes"};
  argv.insert(argv.end(), ssh_options_.begin(), ssh_options_.end());
  argv.insert(argv.end(), {"--", destination_, command_line(remote_argv)});
  return argv;
}

RemoteRun RemoteHost::run(const std::vector<std::string>& remote_argv, const std::string& input) const {
  Pipe to_child = make_pipe(), from_child = make_pipe();
  const pid_t child = spawn(ssh_argv(remote_argv), to_child.read.get(), from_child.write.get(), from_child.write.get());
  to_child.read.reset();
  from_child.write.reset();
  // Written from a thread of its own: a remote command that answers before reading all of
  // its input must not deadlock against a full pipe.
  std::thread writer([fd = std::move(to_child.write), &input]() mutable {
    // An ssh that ended early (no connection) gets EPIPE here, not ubcctl a SIGPIPE.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    std::size_t sent = 0;
    while (sent < input.size()) {
      const ssize_t n = ::write(fd.get(), input.data() + sent, input.size() - sent);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
  });
  RemoteRun result;
  result.output = read_until_closed(from_child.read.get());
  writer.join();
  result.status = wait_for_exit(child);
  return result;
}

std::string RemoteHost::run_or_throw(const std::vector<std::string>& remote_argv, const std::string& input) const {
  RemoteRun result = run(remote_argv, input);
  if (result.status != 0)
    throw std::runtime_error("on " + destination_ + ": `" + command_line(remote_argv) + "` failed (status " +
                             std::to_string(result.status) + "): " + result.output);
  return result.output;
}

void RemoteHost::run_fed_by(const std::vector<std::string>& local_argv,
                            const std::vector<std::string>& remote_argv) const {
  Pipe link = make_pipe();
  const pid_t producer = spawn(local_argv, -1, link.write.get(), -1);
  link.write.reset();
  const pid_t consumer = spawn(ssh_argv(remote_argv), link.read.get(), -1, -1);
  link.read.reset();
  const int consumed = wait_for_exit(consumer);
  // A consumer that failed early leaves the producer blocked on a pipe nobody reads, or
  // killed by SIGPIPE: either way it is over.
  if (consumed != 0) ::kill(producer, SIGKILL);
  const int produced = wait_for_exit(producer);
  if (produced != 0 && consumed == 0)
    throw std::runtime_error("`" + command_line(local_argv) + "` failed with status " + std::to_string(produced));
  if (consumed != 0)
    throw std::runtime_error("on " + destination_ + ": `" + command_line(remote_argv) + "` failed (status " +
                             std::to_string(consumed) + ")");
}

}  // namespace ubc
