#include "loader/id_quota.h"

#include <fcntl.h>
#include <linux/dqblk_xfs.h>
#include <linux/quota.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>

#include "loader/error.h"
#include "loader/unique_fd.h"

namespace ubc::quota {
namespace fs = std::filesystem;

namespace {

UniqueFd open_path(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd) throw_system_error("open(" + path.string() + ")");
  return fd;
}

bool has_limits(const if_nextdqblk& entry) {
  return entry.dqb_bhardlimit || entry.dqb_bsoftlimit || entry.dqb_ihardlimit || entry.dqb_isoftlimit;
}

// Calls `visit` for each id of the range that has a quota entry, in order; stops at the end
// of the range. Throws SystemError.
void for_each_entry(int fd, int type, std::uint32_t host_first, std::uint32_t count,
                    const std::function<void(const if_nextdqblk&)>& visit) {
  const std::uint64_t end = std::uint64_t{host_first} + count;
  for (std::uint64_t next = host_first; next < end;) {
    if_nextdqblk entry{};
    if (quotactl_fd(fd, QCMD(Q_GETNEXTQUOTA, type), static_cast<std::uint32_t>(next), &entry) != 0) {
      // No entry left; quotas off; a filesystem without quotas.
      if (errno == ENOENT || errno == ESRCH || errno == ENOSYS || errno == EOPNOTSUPP) return;
      throw_system_error("quotactl_fd(Q_GETNEXTQUOTA, id " + std::to_string(next) + ")");
    }
    if (entry.dqb_id >= end || entry.dqb_id < next) return;
    visit(entry);
    next = std::uint64_t{entry.dqb_id} + 1;
  }
}

}  // namespace

int quotactl_fd(int fd, std::uint32_t cmd, std::uint32_t id, void* addr) {
  return static_cast<int>(::syscall(SYS_quotactl_fd, fd, cmd, id, addr));
}

bool id_quotas_enforced(const fs::path& path) {
  const UniqueFd fd = open_path(path);
  fs_quota_statv state{};
  state.qs_version = FS_QSTATV_VERSION1;
  if (quotactl_fd(fd.get(), QCMD(Q_XGETQSTATV, USRQUOTA), 0, &state) != 0) return false;
  return (state.qs_flags & FS_QUOTA_UDQ_ENFD) && (state.qs_flags & FS_QUOTA_GDQ_ENFD);
}

std::size_t count_limited_ids(int fd, int type, std::uint32_t host_first, std::uint32_t count) {
  std::size_t limited = 0;
  for_each_entry(fd, type, host_first, count, [&](const if_nextdqblk& entry) { limited += has_limits(entry); });
  return limited;
}

void clear_id_limits(const fs::path& path, std::uint32_t host_first, std::uint32_t count) {
  const UniqueFd fd = open_path(path);
  for (const int type : {USRQUOTA, GRPQUOTA})
    for_each_entry(fd.get(), type, host_first, count, [&](const if_nextdqblk& entry) {
      if (!has_limits(entry)) return;
      if_dqblk none{};
      none.dqb_valid = QIF_LIMITS;
      if (quotactl_fd(fd.get(), QCMD(Q_SETQUOTA, type), entry.dqb_id, &none) != 0)
        throw_system_error("quotactl_fd(" + path.string() + ", Q_SETQUOTA, id " + std::to_string(entry.dqb_id) + ")");
    });
}

}  // namespace ubc::quota
