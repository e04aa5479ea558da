#include "ubc/ct_console.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "loader/cgroup.h"
#include "loader/error.h"
#include "loader/fd_passing.h"
#include "loader/namespaces.h"
#include "loader/unique_fd.h"

namespace ubc {

namespace {

// The caller's terminal in raw mode for the session's length, as it was afterwards.
class RawTerminal {
 public:
  RawTerminal() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_)) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

bool copy(int from, int to) {
  char buffer[4096];
  const ssize_t got = ::read(from, buffer, sizeof buffer);
  if (got <= 0) return false;
  for (ssize_t done = 0; done < got;) {
    const ssize_t put = ::write(to, buffer + done, static_cast<std::size_t>(got - done));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    done += put;
  }
  return true;
}

// In the CT: a session on the pty's slave, running argv.
[[noreturn]] void run_shell(int master, const std::function<void()>& exec_shell) {
  ::setsid();
  const char* slave_name = ::ptsname(master);
  const int slave = slave_name ? ::open(slave_name, O_RDWR) : -1;
  if (slave < 0 || ::ioctl(slave, TIOCSCTTY, 0)) ::_exit(126);
  ::dup2(slave, 0);
  ::dup2(slave, 1);
  ::dup2(slave, 2);
  ::close(slave);
  ::close(master);
  exec_shell();
  ::_exit(127);
}

}  // namespace

int run_on_ct_pty(pid_t init_pid, const std::string& cgroup_procs, const std::function<void()>& exec_shell) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair)) throw_system_error("socketpair");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  winsize size{};
  const bool have_size = ::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0;

  const pid_t child = ::fork();
  if (child < 0) throw_system_error("fork");
  if (child == 0) {
    try {
      ours.reset();
      if (cgroup::enter_from_child(cgroup_procs.c_str())) throw_system_error("entering " + cgroup_procs);
      ns::join_namespaces(init_pid);
      // The CT's own /dev/ptmx: the pty belongs to the CT's devpts instance.
      UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
      if (!master || ::grantpt(master.get()) || ::unlockpt(master.get())) throw_system_error("/dev/ptmx in the CT");
      if (have_size) ::ioctl(master.get(), TIOCSWINSZ, &size);
      const pid_t shell = ::fork();
      if (shell < 0) throw_system_error("fork");
      if (shell == 0) run_shell(master.get(), exec_shell);
      send_fd(theirs.get(), master.get(), "the pty master");
      master.reset();
      int status = 0;
      while (::waitpid(shell, &status, 0) < 0)
        if (errno != EINTR) ::_exit(126);
      ::_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubcctl: enter: %s\n", error.what());
      ::_exit(126);
    }
  }
  theirs.reset();
  UniqueFd master = receive_fd(ours.get());
  if (master) {
    RawTerminal raw;
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {master.get(), POLLIN, 0}};
    for (bool input_open = true;;) {
      fds[0].fd = input_open ? STDIN_FILENO : -1;
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!copy(master.get(), STDOUT_FILENO)) break;  // EIO: the shell's side closed
      }
      if (input_open && (fds[0].revents & (POLLIN | POLLHUP))) {
        if (!copy(STDIN_FILENO, master.get())) {
          input_open = false;
          const char end_of_file = 4;  // ^D: what a terminal sends when its input ends
          [[maybe_unused]] auto ignored = ::write(master.get(), &end_of_file, 1);
        }
      }
    }
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) throw_system_error("waitpid");
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace ubc
