#include "ubc/freeze_hold.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "loader/error.h"

namespace ubc {

namespace {

// The watcher, in a child forked of a process that may have other threads: nothing but
// system calls. It keeps only its end of the socket (a copy of anything else, such as an
// ssh session's pipe or the caller's stdout, would hold that open) and waits: one byte is
// "released", end of file with none is "every holder died".
[[noreturn]] void watch(int watched, const char* freeze_file) noexcept {
  ::setsid();  // a Ctrl-C or hangup that ends ubcctl is not the watcher's
  constexpr int kWatched = 3;
  if (watched != kWatched && ::dup2(watched, kWatched) < 0) ::_exit(1);
  ::close_range(kWatched + 1, ~0U, 0);
  const int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
    if (null > 2) ::close(null);
  }
  char byte;
  ssize_t got;
  while ((got = ::read(kWatched, &byte, 1)) < 0 && errno == EINTR) {
  }
  if (got != 1) {
    const int freeze = ::open(freeze_file, O_WRONLY | O_CLOEXEC);
    if (freeze >= 0) [[maybe_unused]]
      const ssize_t written = ::write(freeze, "0", 1);
  }
  ::_exit(0);
}

}  // namespace

FreezeHold::FreezeHold(const std::filesystem::path& cgroup) {
  const std::string freeze_file = (cgroup / "cgroup.freeze").string();
  // A socket, not a pipe: a release after the watcher has gone is no SIGPIPE (MSG_NOSIGNAL).
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends)) throw_system_error("socketpair");
  const UniqueFd watched(ends[0]);
  held_.reset(ends[1]);
  // Forked twice: the watcher is nobody's child to reap, and outlives this process.
  const pid_t between = ::fork();
  if (between < 0) throw_system_error("fork");
  if (between == 0) {
    const pid_t watcher = ::fork();
    if (watcher == 0) watch(watched.get(), freeze_file.c_str());
    ::_exit(watcher < 0 ? 1 : 0);
  }
  int status = 0;
  while (::waitpid(between, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("fork(the watcher that thaws " + cgroup.string() + " should ubcctl die) failed");
}

void release_held(int fd) noexcept {
  if (fd >= 0) ::send(fd, "r", 1, MSG_NOSIGNAL);
}

void FreezeHold::release() noexcept {
  release_held(held_.get());
  held_.reset();
}

}  // namespace ubc
