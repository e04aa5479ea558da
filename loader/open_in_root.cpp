#include "loader/open_in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ubc {

UniqueFd open_in_root(const std::filesystem::path& root, const std::string& path, int flags) {
  const UniqueFd root_dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_dir) return UniqueFd();
  open_how how{};
  how.flags = static_cast<__u64>(flags) | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root_dir.get(), path.c_str(), &how, sizeof how)));
}

}  // namespace ubc
