#include "ubc/ct_console.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "loader/cgroup.h"
#include "loader/child_process.h"
#include "loader/error.h"
#include "loader/fd_passing.h"
#include "loader/namespaces.h"
#include "loader/unique_fd.h"
#include "loader/unix_listener.h"
#include "ubc/ct_config.h"

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

// Writes all of `data`; false once `fd` is gone.
bool write_all(int fd, const char* data, std::size_t size) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t put = ::write(fd, data + done, size - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    done += static_cast<std::size_t>(put);
  }
  return true;
}

bool copy(int from, int to) {
  char buffer[4096];
  const ssize_t got = ::read(from, buffer, sizeof buffer);
  return got > 0 && write_all(to, buffer, static_cast<std::size_t>(got));
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

// vzctl console's detach keys, Esc then '.', found in what the caller types, across reads.
class DetachKeys {
 public:
  // What of `input` to pass on; sets detached() when the keys came.
  std::string filter(const char* input, std::size_t size) {
    std::string passed;
    for (std::size_t i = 0; i < size && !detached_; ++i) {
      const char key = input[i];
      if (after_escape_) {
        after_escape_ = false;
        if (key == '.') {
          detached_ = true;
          break;
        }
        passed += kEscape;
      }
      if (key == kEscape)
        after_escape_ = true;
      else
        passed += key;
    }
    return passed;
  }
  bool detached() const { return detached_; }

 private:
  static constexpr char kEscape = 0x1b;
  bool after_escape_ = false;
  bool detached_ = false;
};

}  // namespace

ConsolePty open_console_pty(unsigned ct_root_host_id) {
  ConsolePty pty;
  pty.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master || ::grantpt(pty.master.get()) || ::unlockpt(pty.master.get()))
    throw_system_error("opening a pty for the CT's console");
  char name[64];
  if (::ptsname_r(pty.master.get(), name, sizeof name)) throw_system_error("ptsname_r");
  pty.slave_path = name;
  pty.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) throw_system_error(std::string("open(") + name + ")");
  if (::fchmod(pty.slave.get(), 0600) || ::fchown(pty.slave.get(), ct_root_host_id, ct_root_host_id))
    throw_system_error(std::string("giving ") + name + " to the CT's root");
  return pty;
}

std::filesystem::path console_socket(const std::string& ctid) {
  return run_dir() / (ctid + ".console.sock");
}

void attach_console(const std::string& ctid, const std::filesystem::path& socket) {
  const UniqueFd connection = connect_unix(socket);
  if (!connection) throw_system_error("CT " + ctid + " has no console to attach to: connect(" + socket.string() + ")");
  // ubc-console's first byte: '+' when the console is ours, else '-' and why not.
  pollfd answer{connection.get(), POLLIN, 0};
  char verdict = 0;
  if (::poll(&answer, 1, 10000) != 1 || ::read(connection.get(), &verdict, 1) != 1)
    throw std::runtime_error("CT " + ctid + "'s console keeper does not answer");
  if (verdict != '+') {
    char reason[256] = {};
    const ssize_t got = ::read(connection.get(), reason, sizeof reason - 1);
    throw std::runtime_error("CT " + ctid + "'s console: " + (got > 0 ? reason : "refused"));
  }
  std::fprintf(stderr, "Attached to CT %s's console (type Esc then . to detach)\r\n", ctid.c_str());
  {
    RawTerminal raw;
    DetachKeys keys;
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {connection.get(), POLLIN, 0}};
    char buffer[4096];
    while (!keys.detached()) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        throw_system_error("poll");
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t got = ::read(connection.get(), buffer, sizeof buffer);
        if (got <= 0) break;  // the CT stopped
        if (!write_all(STDOUT_FILENO, buffer, static_cast<std::size_t>(got))) break;
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // the caller's input ended: nothing more to type
        const std::string passed = keys.filter(buffer, static_cast<std::size_t>(got));
        if (!write_all(connection.get(), passed.data(), passed.size())) break;
      }
    }
  }
  std::fprintf(stderr, "\nDetached from CT %s's console\n", ctid.c_str());
}

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
      ::_exit(wait_for_exit(shell));
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
  return wait_for_exit(child);
}

}  // namespace ubc
