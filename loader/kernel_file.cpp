#include "loader/kernel_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "loader/error.h"

namespace ubc {

std::optional<std::string> KernelFile::read() {
  if (!fd_) {
    fd_ = UniqueFd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) {
      if (errno == ENOENT) return std::nullopt;
      throw_system_error("open(" + path_.string() + ")");
    }
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::pread(fd_.get(), buffer, sizeof buffer, static_cast<off_t>(text.size()));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_system_error("read(" + path_.string() + ")");
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  return text;
}

std::string KernelFile::read_existing() {
  auto text = read();
  if (!text) throw_system_error("open(" + path_.string() + ")", ENOENT);
  return std::move(*text);
}

}  // namespace ubc
