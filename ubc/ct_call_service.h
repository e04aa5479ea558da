// The system calls a CT's processes make that the host answers for it, as Incus answers
// them from lxcfs: every process of the CT runs under a seccomp filter that hands these calls
// to a supervisor (loader/seccomp_policy.h), the CT's /proc view server (ubc-procfs). The
// filter's listener comes here from the CT's init, over the socket it shares with the
// server, and from each `exec` and `enter` through the server's socket (ct_call_socket,
// ubc/ct_process.h). Today: sysinfo(2), answered with the CT's own figures, and quotactl(2),
// the CT's second-level disk quota (ubc/ct_quota_calls.h).
#pragma once

#include <poll.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "loader/notified_call.h"
#include "loader/unique_fd.h"
#include "loader/unix_listener.h"

namespace ubc {

class CtCallService {
 public:
  // Answers one call; it must answer `call` (unanswered, the call fails with ENOSYS).
  using Handler = std::function<void(NotifiedCall& call)>;
  // Listens on `socket_path`; `init_connection` (the init's socket) brings the first listener.
  // `handlers`: by x86-64 system call number. A 32-bit or x32 caller's call runs in the
  // kernel as if unfiltered: its arguments are laid out otherwise.
  CtCallService(const std::filesystem::path& socket_path, UniqueFd init_connection, std::map<long, Handler> handlers);
  ~CtCallService();
  CtCallService(const CtCallService&) = delete;
  CtCallService& operator=(const CtCallService&) = delete;

  // The descriptors to poll, appended to `fds` (all POLLIN).
  void watch(std::vector<pollfd>& fds) const;
  // Handles whatever `ready` (one of watch()'s, with its revents) says.
  void handle(const pollfd& ready);

 private:
  void answer_one(int listener);

  std::optional<UnixListener> listener_socket_;
  std::vector<UniqueFd> connections_;  // a listener is to come on each
  std::vector<UniqueFd> listeners_;
  std::map<long, Handler> handlers_;
};

}  // namespace ubc
