#include "loader/unix_listener.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "loader/error.h"

namespace ubc {

namespace {

bool address_of(const std::filesystem::path& path, sockaddr_un& address) {
  address = {};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof address.sun_path) {
    errno = ENAMETOOLONG;
    return false;
  }
  std::strcpy(address.sun_path, path.c_str());
  return true;
}

}  // namespace

UnixListener::UnixListener(std::filesystem::path path) : path_(std::move(path)) {
  sockaddr_un address{};
  if (!address_of(path_, address)) throw_system_error("listening on " + path_.string());
  socket_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket_) throw_system_error("socket(AF_UNIX)");
  ::unlink(path_.c_str());
  const mode_t old_mask = ::umask(0077);
  const int bound = ::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int saved_errno = errno;
  ::umask(old_mask);
  errno = saved_errno;
  if (bound) throw_system_error("bind(" + path_.string() + ")");
  if (::listen(socket_.get(), 16) || ::stat(path_.c_str(), &bound_))
    throw_system_error("listen(" + path_.string() + ")");
}

UnixListener::~UnixListener() {
  struct stat now {};
  if (::stat(path_.c_str(), &now) == 0 && now.st_ino == bound_.st_ino && now.st_dev == bound_.st_dev)
    ::unlink(path_.c_str());
}

UniqueFd UnixListener::accept() const {
  return UniqueFd(::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
}

UniqueFd connect_unix(const std::filesystem::path& path) {
  sockaddr_un address{};
  if (!address_of(path, address)) return UniqueFd();
  UniqueFd connection(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!connection) return UniqueFd();
  if (::connect(connection.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address)) return UniqueFd();
  return connection;
}

}  // namespace ubc
