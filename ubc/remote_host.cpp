#include "ubc/remote_host.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
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
  return spawn_program(
      argv,
      [&]() -> const char* {
        const bool redirected =
            (in < 0 || ::dup2(in, 0) >= 0) && (out < 0 || ::dup2(out, 1) >= 0) && (err < 0 || ::dup2(err, 2) >= 0);
        return redirected ? nullptr : "redirecting its standard streams";
      },
      OnParentDeath::kill);
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

RemoteHost::~RemoteHost() {
  if (master_ > 0) {
    ::kill(master_, SIGTERM);
    ::waitpid(master_, nullptr, 0);
  }
  std::error_code ignored;
  if (!control_dir_.empty()) std::filesystem::remove_all(control_dir_, ignored);
}

void RemoteHost::connect() {
  if (master_ > 0) return;
  char dir[] = "/tmp/ubc-ssh.XXXXXX";
  if (!::mkdtemp(dir)) throw_system_error("mkdtemp /tmp/ubc-ssh.XXXXXX");
  control_dir_ = dir;
  const std::filesystem::path socket = control_dir_ / "master", said = control_dir_ / "master.err";
  const UniqueFd nothing(::open("/dev/null", O_RDWR | O_CLOEXEC));
  const UniqueFd errors(::open(said.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!nothing || !errors) throw_system_error("open " + said.string());
  std::vector<std::string> argv{"ssh"};
  const auto base = ssh_base();
  argv.insert(argv.end(), base.begin(), base.end());
  argv.insert(argv.end(), {"-M", "-N", "-o", "ControlPath=" + socket.string(), "--", destination_});
  const pid_t master = spawn(argv, nothing.get(), nothing.get(), errors.get());
  // ssh puts the socket in place once it is logged in; until then it may give up.
  for (;;) {
    int status = 0;
    if (::waitpid(master, &status, WNOHANG) == master) {
      std::ifstream text(said);
      std::string output((std::istreambuf_iterator<char>(text)), std::istreambuf_iterator<char>());
      while (!output.empty() && output.back() == '\n') output.pop_back();
      std::filesystem::remove_all(control_dir_);
      control_dir_.clear();
      throw std::runtime_error("ssh " + destination_ + " failed: " + (output.empty() ? "no reason given" : output));
    }
    if (std::filesystem::exists(socket)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  master_ = master;
}

std::vector<std::string> RemoteHost::ssh_base() const {
  std::vector<std::string> argv{"-o", "BatchMode=yes"};
  if (master_ > 0) argv.insert(argv.end(), {"-o", "ControlPath=" + (control_dir_ / "master").string()});
  argv.insert(argv.end(), ssh_options_.begin(), ssh_options_.end());
  return argv;
}

std::vector<std::string> RemoteHost::rsync_argv(const std::string& local_dir, const std::string& remote_dir,
                                                const std::string& remote_rsync) const {
  // rsync splits its -e command at spaces and keeps quoted words whole, with no escapes.
  std::string ssh = "ssh";
  for (const auto& option : ssh_base()) {
    const bool plain = !option.empty() && option.find_first_of(" \t'\"") == std::string::npos;
    if (plain)
      ssh += " " + option;
    else if (option.find('\'') == std::string::npos)
      ssh += " '" + option + "'";
    else if (option.find('"') == std::string::npos)
      ssh += " \"" + option + "\"";
    else
      throw std::invalid_argument("ssh option '" + option + "' has both kinds of quotes: rsync cannot pass it on");
  }
  // Ids as numbers (the CT's range is the same there), hard links, ACLs, extended attributes
  // (file capabilities), sparse files; one filesystem; what went here goes there too.
  std::vector<std::string> argv{"rsync", "-aHAXSx", "--numeric-ids", "--delete", "-e", ssh};
  if (!remote_rsync.empty()) argv.push_back("--rsync-path=" + remote_rsync);
  argv.insert(argv.end(), {"--", local_dir + "/", destination_ + ":" + remote_dir + "/"});
  return argv;
}

std::vector<std::string> RemoteHost::ssh_argv(const std::vector<std::string>& remote_argv) const {
  std::vector<std::string> argv{"ssh"};
  const auto base = ssh_base();
  argv.insert(argv.end(), base.begin(), base.end());
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
