// Passing one file descriptor over an AF_UNIX socket (SCM_RIGHTS), as the CT's pty master
// and its procfs cross from inside a CT to the host.
#pragma once

#include <string>

#include "loader/unique_fd.h"

namespace ubc {

// Sends `fd` with one byte; throws naming `what` when the peer is gone.
void send_fd(int socket, int fd, const std::string& what);
// The same for a forked child, which must not allocate: false (errno set) when it failed.
bool try_send_fd(int socket, int fd) noexcept;

// The next descriptor sent on `socket` (close-on-exec), or none when the peer closed the
// socket without sending one. Throws on other errors.
UniqueFd receive_fd(int socket);

}  // namespace ubc
