#include "loader/fd_passing.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "loader/error.h"

namespace ubc {

namespace {

// One byte of payload and room for one descriptor.
struct Message {
  Message() {
    iov = {&byte, 1};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  char byte = 0;
  iovec iov{};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
};

}  // namespace

bool try_send_fd(int socket, int fd) noexcept {
  Message message;
  cmsghdr* control = CMSG_FIRSTHDR(&message.header);
  control->cmsg_level = SOL_SOCKET;
  control->cmsg_type = SCM_RIGHTS;
  control->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(control), &fd, sizeof fd);
  return ::sendmsg(socket, &message.header, MSG_NOSIGNAL) == 1;
}

void send_fd(int socket, int fd, const std::string& what) {
  if (!try_send_fd(socket, fd)) throw_system_error("sendmsg(" + what + ")");
}

UniqueFd receive_fd(int socket) {
  Message message;
  ssize_t got;
  while ((got = ::recvmsg(socket, &message.header, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (got < 0) throw_system_error("recvmsg(SCM_RIGHTS)");
  const cmsghdr* control = CMSG_FIRSTHDR(&message.header);
  if (got == 0 || !control || control->cmsg_type != SCM_RIGHTS || control->cmsg_len != CMSG_LEN(sizeof(int)))
    return UniqueFd();
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(control), sizeof fd);
  return UniqueFd(fd);
}

}  // namespace ubc
