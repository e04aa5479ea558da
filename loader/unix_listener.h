// A listening AF_UNIX stream socket at a path only root may connect to (mode 0700 through
// the umask), removed again when it goes, unless another has been bound there since (a CT
// restarted while the old one was ending).
#pragma once

#include <sys/stat.h>

#include <filesystem>

#include "loader/unique_fd.h"

namespace ubc {

class UnixListener {
 public:
  // Non-blocking and close-on-exec; throws naming the path when it cannot listen.
  explicit UnixListener(std::filesystem::path path);
  ~UnixListener();
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  int fd() const { return socket_.get(); }
  // The next waiting connection (non-blocking, close-on-exec), or an invalid fd.
  UniqueFd accept() const;

 private:
  std::filesystem::path path_;
  UniqueFd socket_;
  struct stat bound_ {};
};

// A connection to the listener at `path`, or an invalid fd (errno set) when there is none.
UniqueFd connect_unix(const std::filesystem::path& path);

}  // namespace ubc
