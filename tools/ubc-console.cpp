// ubc-console FILE MAX_BYTES SOCKET MASTER_FD INIT_PIDFD: keeps a CT's console. Reads what
// the CT writes to its console (the pty whose master is MASTER_FD) into FILE, with at most
// MAX_BYTES in FILE and the MAX_BYTES before them in FILE.1, so that a CT cannot fill the
// host's /run; lends the console to one `ubcctl console` at a time through SOCKET (its
// first byte to a client: '+', or '-' and why it cannot have the console). It holds
// a slave of its own, so that the console lives while no CT process has it open, and ends
// when the CT's init (INIT_PIDFD) does. `ubcctl start` runs one per CT.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "loader/unix_listener.h"

namespace {

// FILE and FILE.1, at most `max_bytes` each.
class BoundedLog {
 public:
  BoundedLog(std::string file, unsigned long long max_bytes) : file_(std::move(file)), max_bytes_(max_bytes) {
    open_file();
  }
  ~BoundedLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  BoundedLog(const BoundedLog&) = delete;
  BoundedLog& operator=(const BoundedLog&) = delete;

  bool ok() const { return fd_ >= 0; }
  // False once the host's disk refuses: the CT goes on, its console is no longer kept.
  bool append(const char* data, std::size_t size) {
    for (std::size_t done = 0; done < size;) {
      if (written_ == max_bytes_) {  // full: the current file becomes FILE.1
        ::close(fd_);
        if (std::rename(file_.c_str(), (file_ + ".1").c_str()))
          std::fprintf(stderr, "ubc-console: rename(%s): %s\n", file_.c_str(), std::strerror(errno));
        if (!open_file()) return false;
      }
      const auto room = static_cast<std::size_t>(std::min<unsigned long long>(max_bytes_ - written_, size - done));
      const ssize_t put = ::write(fd_, data + done, room);
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) return false;
      done += static_cast<std::size_t>(put);
      written_ += static_cast<unsigned long long>(put);
    }
    return true;
  }

 private:
  bool open_file() {
    fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    written_ = 0;
    if (fd_ < 0) std::fprintf(stderr, "ubc-console: open(%s): %s\n", file_.c_str(), std::strerror(errno));
    return fd_ >= 0;
  }

  std::string file_;
  unsigned long long max_bytes_;
  unsigned long long written_ = 0;
  int fd_ = -1;
};

// Reads what is there now; -1 at EAGAIN or error, 0 at end.
ssize_t read_some(int fd, char* buffer, std::size_t size) {
  for (;;) {
    const ssize_t got = ::read(fd, buffer, size);
    if (got < 0 && errno == EINTR) continue;
    return got;
  }
}

// To a client or the CT's terminal, never waiting: what does not fit now is dropped (the log
// keeps the CT's side whole). False when `fd` is gone.
bool send_now(int fd, const char* data, std::size_t size) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t put = ::send(fd, data + done, size - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0 && errno == ENOTSOCK) return ::write(fd, data + done, size - done) >= 0 || errno == EAGAIN;
    if (put < 0) return errno == EAGAIN;
    done += static_cast<std::size_t>(put);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: ubc-console FILE MAX_BYTES SOCKET MASTER_FD INIT_PIDFD\n");
    return 2;
  }
  const unsigned long long max_bytes = std::strtoull(argv[2], nullptr, 10);
  const int master = std::atoi(argv[4]), init = std::atoi(argv[5]);
  if (max_bytes == 0 || master < 0 || init < 0) {
    std::fprintf(stderr, "ubc-console: MAX_BYTES and the fds must be positive\n");
    return 2;
  }
  BoundedLog log(argv[1], max_bytes);
  if (!log.ok()) return 1;
  // Our own slave: without one, the master reads EIO whenever the CT has closed its own.
  const int own_slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (own_slave < 0) std::fprintf(stderr, "ubc-console: TIOCGPTPEER: %s\n", std::strerror(errno));
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  // Root's only, removed at exit unless a later keeper (the CT restarted) has put its own there.
  std::optional<ubc::UnixListener> listener;
  try {
    listener.emplace(argv[3]);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-console: %s\n", error.what());  // kept still, only not attachable
  }
  int client = -1;
  bool keeping = true;
  char buffer[65536];
  auto from_ct = [&] {
    const ssize_t got = read_some(master, buffer, sizeof buffer);
    if (got <= 0) return false;
    if (keeping) keeping = log.append(buffer, static_cast<std::size_t>(got));
    if (client >= 0 && !send_now(client, buffer, static_cast<std::size_t>(got))) {
      ::close(client);
      client = -1;
    }
    return true;
  };
  for (;;) {
    pollfd fds[4] = {
        {master, POLLIN, 0}, {init, POLLIN, 0}, {listener ? listener->fd() : -1, POLLIN, 0}, {client, POLLIN, 0}};
    if (::poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents & POLLIN) from_ct();
    if (fds[1].revents & POLLIN) {  // init ended: what the CT wrote last, then done
      while (from_ct()) {
      }
      break;
    }
    if (fds[2].revents & POLLIN) {
      const int fresh = listener->accept().release();
      // The first byte says whether the client has the console: '+', or '-' and why not.
      if (fresh >= 0 && client >= 0) {
        const char busy[] = "-another `ubcctl console` is attached";
        send_now(fresh, busy, sizeof busy - 1);
        ::close(fresh);
      } else if (fresh >= 0 && send_now(fresh, "+", 1)) {
        client = fresh;
      } else if (fresh >= 0) {
        ::close(fresh);
      }
    }
    if (client >= 0 && (fds[3].revents & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t got = read_some(client, buffer, sizeof buffer);
      if (got == 0 || (got < 0 && errno != EAGAIN) || (got > 0 && !send_now(master, buffer, got))) {
        ::close(client);
        client = -1;
      }
    }
  }
  if (client >= 0) ::close(client);
  if (own_slave >= 0) ::close(own_slave);
  return 0;
}
