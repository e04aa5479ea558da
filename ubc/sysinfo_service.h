// sysinfo(2) answered for a CT by its /proc view server (ubc-procfs), as Incus answers it
// from lxcfs: every process of the CT runs under a seccomp filter that hands sysinfo to a
// supervisor (loader/seccomp_policy.h), and the filter's listener comes here, from the
// CT's init over the socket it shares with the server, and from each `exec` and `enter`
// through the server's socket (sysinfo_socket, ubc/ct_process.h). The answer is written into the
// caller's memory through /proc/PID/mem, checked against the notification id so that a
// reused pid never gets it.
#pragma once

#include <poll.h>
#include <sys/sysinfo.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "loader/unique_fd.h"
#include "loader/unix_listener.h"

namespace ubc {

class SysinfoService {
 public:
  using Answer = std::function<struct sysinfo()>;
  // Listens on `socket_path`; `init_connection` (the init's socket) brings the first listener.
  SysinfoService(const std::filesystem::path& socket_path, UniqueFd init_connection, Answer answer);
  ~SysinfoService();
  SysinfoService(const SysinfoService&) = delete;
  SysinfoService& operator=(const SysinfoService&) = delete;

  // The descriptors to poll, appended to `fds` (all POLLIN).
  void watch(std::vector<pollfd>& fds) const;
  // Handles whatever `ready` (one of watch()'s, with its revents) says.
  void handle(const pollfd& ready);

 private:
  void answer_one(int listener);

  std::optional<UnixListener> listener_socket_;
  std::vector<UniqueFd> connections_;  // a listener is to come on each
  std::vector<UniqueFd> listeners_;
  Answer answer_;
};

}  // namespace ubc
