#include "ubc/ct_call_service.h"

#include <linux/audit.h>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "loader/fd_passing.h"

namespace ubc {

CtCallService::CtCallService(const std::filesystem::path& socket_path, UniqueFd init_connection,
                             std::map<long, Handler> handlers)
    : handlers_(std::move(handlers)) {
  if (init_connection) connections_.push_back(std::move(init_connection));
  try {
    listener_socket_.emplace(socket_path);
  } catch (const std::exception& error) {
    // The CT's init is served still; its `exec` and `enter` sessions are not.
    std::fprintf(stderr, "ubc-procfs: system calls of exec and enter: %s\n", error.what());
  }
}

CtCallService::~CtCallService() = default;

void CtCallService::watch(std::vector<pollfd>& fds) const {
  if (listener_socket_) fds.push_back({listener_socket_->fd(), POLLIN, 0});
  for (const auto& connection : connections_) fds.push_back({connection.get(), POLLIN, 0});
  for (const auto& listener : listeners_) fds.push_back({listener.get(), POLLIN, 0});
}

void CtCallService::handle(const pollfd& ready) {
  if (!ready.revents) return;
  if (listener_socket_ && ready.fd == listener_socket_->fd()) {
    if (UniqueFd connection = listener_socket_->accept()) connections_.push_back(std::move(connection));
    return;
  }
  if (auto it = std::find_if(connections_.begin(), connections_.end(),
                             [&](const UniqueFd& fd) { return fd.get() == ready.fd; });
      it != connections_.end()) {
    // One listener comes on each connection, or none when its process failed first.
    try {
      if (UniqueFd listener = receive_fd(it->get())) listeners_.push_back(std::move(listener));
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubc-procfs: receiving a seccomp listener: %s\n", error.what());
    }
    connections_.erase(it);
    return;
  }
  auto listener =
      std::find_if(listeners_.begin(), listeners_.end(), [&](const UniqueFd& fd) { return fd.get() == ready.fd; });
  if (listener == listeners_.end()) return;
  if (ready.revents & POLLIN) answer_one(listener->get());
  // No task runs under that filter any more.
  if ((ready.revents & (POLLHUP | POLLERR)) && !(ready.revents & POLLIN)) listeners_.erase(listener);
}

void CtCallService::answer_one(int listener) {
  auto call = NotifiedCall::receive(listener);
  if (!call) return;
  if (call->data().arch != AUDIT_ARCH_X86_64) {
    call->answer_continue();
    return;
  }
  const auto handler = handlers_.find(call->data().nr);
  if (handler == handlers_.end()) return;  // ENOSYS
  try {
    handler->second(*call);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-procfs: answering system call %d: %s\n", call->data().nr, error.what());
    call->answer_error(EIO);
  }
}

}  // namespace ubc
