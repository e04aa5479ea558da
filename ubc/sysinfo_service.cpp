#include "ubc/sysinfo_service.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "loader/error.h"
#include "loader/fd_passing.h"

namespace ubc {

SysinfoService::SysinfoService(const std::filesystem::path& socket_path, UniqueFd init_connection, Answer answer)
    : answer_(std::move(answer)) {
  if (init_connection) connections_.push_back(std::move(init_connection));
  try {
    listener_socket_.emplace(socket_path);
  } catch (const std::exception& error) {
    // The CT's init is served still; its `exec` and `enter` sessions get the kernel's figures.
    std::fprintf(stderr, "ubc-procfs: sysinfo for exec and enter: %s\n", error.what());
  }
}

SysinfoService::~SysinfoService() = default;

void SysinfoService::watch(std::vector<pollfd>& fds) const {
  if (listener_socket_) fds.push_back({listener_socket_->fd(), POLLIN, 0});
  for (const auto& connection : connections_) fds.push_back({connection.get(), POLLIN, 0});
  for (const auto& listener : listeners_) fds.push_back({listener.get(), POLLIN, 0});
}

void SysinfoService::handle(const pollfd& ready) {
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
      std::fprintf(stderr, "ubc-procfs: receiving a sysinfo listener: %s\n", error.what());
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

void SysinfoService::answer_one(int listener) {
  seccomp_notif* request = nullptr;
  seccomp_notif_resp* response = nullptr;
  if (::seccomp_notify_alloc(&request, &response)) return;
  const std::unique_ptr<seccomp_notif, void (*)(seccomp_notif*)> owned_request(
      request, [](seccomp_notif* r) { ::seccomp_notify_free(r, nullptr); });
  const std::unique_ptr<seccomp_notif_resp, void (*)(seccomp_notif_resp*)> owned_response(
      response, [](seccomp_notif_resp* r) { ::seccomp_notify_free(nullptr, r); });
  if (::seccomp_notify_receive(listener, request)) return;  // the caller is gone already
  response->id = request->id;
  response->val = 0;
  response->error = 0;
  response->flags = 0;
  if (request->data.arch != AUDIT_ARCH_X86_64) {
    // A 32-bit or x32 caller's struct sysinfo is laid out otherwise: the kernel answers it.
    response->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else {
    const struct sysinfo info = answer_();
    const std::string memory = "/proc/" + std::to_string(request->pid) + "/mem";
    const UniqueFd target(::open(memory.c_str(), O_WRONLY | O_CLOEXEC));
    // Valid after the open: the pid is still the caller's, not a task that reused it.
    if (!target || ::seccomp_notify_id_valid(listener, request->id)) return;
    const auto at = static_cast<off_t>(request->data.args[0]);
    if (::pwrite(target.get(), &info, sizeof info, at) != static_cast<ssize_t>(sizeof info)) response->error = -EFAULT;
  }
  ::seccomp_notify_respond(listener, response);
}

}  // namespace ubc
