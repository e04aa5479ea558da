#include "loader/project_quota.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/dqblk_xfs.h>
#include <linux/fs.h>
#include <linux/quota.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "loader/error.h"
#include "loader/id_quota.h"
#include "loader/unique_fd.h"

namespace ubc::quota {
namespace fs = std::filesystem;

namespace {

// Deeper trees are refused rather than walked with as many open directories.
constexpr std::size_t kMaxDepth = 512;

UniqueFd open_path(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd) throw_system_error("open(" + path.string() + ")");
  return fd;
}

int quotactl_on(int fd, int command, std::uint32_t id, void* argument) {
  return quotactl_fd(fd, QCMD(command, PRJQUOTA), id, argument);
}

void quotactl_or_throw(const fs::path& on, int command, std::uint32_t id, void* argument, const char* name) {
  const UniqueFd fd = open_path(on);
  if (quotactl_on(fd.get(), command, id, argument) != 0)
    throw_system_error(std::string("quotactl_fd(") + on.string() + ", " + name + ", project " + std::to_string(id) +
                       ")");
}

void set_project_of(int fd, std::uint32_t project, bool inherit, const std::string& what) {
  fsxattr attributes{};
  if (::ioctl(fd, FS_IOC_FSGETXATTR, &attributes) != 0) throw_system_error("FS_IOC_FSGETXATTR(" + what + ")");
  const std::uint32_t flags = inherit ? attributes.fsx_xflags | FS_XFLAG_PROJINHERIT : attributes.fsx_xflags;
  if (attributes.fsx_projid == project && flags == attributes.fsx_xflags) return;
  attributes.fsx_projid = project;
  attributes.fsx_xflags = flags;
  if (::ioctl(fd, FS_IOC_FSSETXATTR, &attributes) != 0) throw_system_error("FS_IOC_FSSETXATTR(" + what + ")");
}

// Opens `name` in `dir` only if it is still a directory or regular file of `device`.
UniqueFd open_entry(int dir, const char* name, dev_t device, bool& is_directory) {
  UniqueFd path(::openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!path) return path;
  struct stat info {};
  if (::fstat(path.get(), &info) != 0 || info.st_dev != device) return UniqueFd();
  if (!S_ISDIR(info.st_mode) && !S_ISREG(info.st_mode)) return UniqueFd();
  is_directory = S_ISDIR(info.st_mode);
  // Reopened through the O_PATH descriptor: the same inode, whatever the name holds now.
  const std::string self = "/proc/self/fd/" + std::to_string(path.get());
  return UniqueFd(::open(self.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | (is_directory ? O_DIRECTORY : 0)));
}

}  // namespace

bool project_quota_enforced(const fs::path& path) {
  const UniqueFd fd = open_path(path);
  fs_quota_statv state{};
  state.qs_version = FS_QSTATV_VERSION1;
  if (quotactl_on(fd.get(), Q_XGETQSTATV, 0, &state) != 0) return false;
  return (state.qs_flags & FS_QUOTA_PDQ_ENFD) != 0;
}

void set_project_limits(const fs::path& on, std::uint32_t project, const ProjectLimits& limits) {
  if_dqblk block{};
  block.dqb_bsoftlimit = limits.block_soft;
  block.dqb_bhardlimit = limits.block_hard;
  block.dqb_isoftlimit = limits.inode_soft;
  block.dqb_ihardlimit = limits.inode_hard;
  block.dqb_valid = QIF_LIMITS;
  quotactl_or_throw(on, Q_SETQUOTA, project, &block, "Q_SETQUOTA");
}

ProjectUsage project_usage(const fs::path& on, std::uint32_t project) {
  if_dqblk block{};
  quotactl_or_throw(on, Q_GETQUOTA, project, &block, "Q_GETQUOTA");
  ProjectUsage usage;
  usage.bytes = block.dqb_curspace;
  usage.inodes = block.dqb_curinodes;
  usage.limits = {block.dqb_bsoftlimit, block.dqb_bhardlimit, block.dqb_isoftlimit, block.dqb_ihardlimit};
  usage.block_grace_end = static_cast<std::int64_t>(block.dqb_btime);
  usage.inode_grace_end = static_cast<std::int64_t>(block.dqb_itime);
  return usage;
}

void set_project_grace(const fs::path& on, std::uint64_t seconds) {
  if_dqinfo info{};
  info.dqi_bgrace = seconds;
  info.dqi_igrace = seconds;
  info.dqi_valid = IIF_BGRACE | IIF_IGRACE;
  quotactl_or_throw(on, Q_SETINFO, 0, &info, "Q_SETINFO");
}

std::uint32_t project_of(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) throw_system_error("open(" + path.string() + ")");
  fsxattr attributes{};
  if (::ioctl(fd.get(), FS_IOC_FSGETXATTR, &attributes) != 0)
    throw_system_error("FS_IOC_FSGETXATTR(" + path.string() + ")");
  return attributes.fsx_projid;
}

void assign_project(const fs::path& root, std::uint32_t project) {
  UniqueFd top(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!top) throw_system_error("open(" + root.string() + ")");
  struct stat info {};
  if (::fstat(top.get(), &info) != 0) throw_system_error("fstat(" + root.string() + ")");
  const dev_t device = info.st_dev;
  // The top last: a walk cut short leaves it in its old project, and the next one runs again.
  const UniqueFd top_again(::dup(top.get()));
  if (!top_again) throw_system_error("dup(" + root.string() + ")");

  struct Level {
    std::unique_ptr<DIR, int (*)(DIR*)> listing;
    fs::path path;
  };
  std::vector<Level> stack;
  auto descend = [&](UniqueFd dir, const fs::path& path) {
    if (stack.size() >= kMaxDepth)
      throw SystemError("assign_project(" + path.string() + "): deeper than " + std::to_string(kMaxDepth), ELOOP);
    DIR* listing = ::fdopendir(dir.get());
    if (!listing) throw_system_error("fdopendir(" + path.string() + ")");
    dir.release();
    stack.push_back({{listing, &::closedir}, path});
  };
  descend(std::move(top), root);
  while (!stack.empty()) {
    Level& level = stack.back();
    errno = 0;
    const dirent* entry = ::readdir(level.listing.get());
    if (!entry) {
      if (errno != 0) throw_system_error("readdir(" + level.path.string() + ")");
      stack.pop_back();
      continue;
    }
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (entry->d_type != DT_DIR && entry->d_type != DT_REG && entry->d_type != DT_UNKNOWN) continue;
    bool is_directory = false;
    UniqueFd child = open_entry(::dirfd(level.listing.get()), name.c_str(), device, is_directory);
    if (!child) continue;  // gone, or not a directory or file of this filesystem
    const fs::path path = level.path / name;
    set_project_of(child.get(), project, is_directory, path.string());
    if (is_directory) descend(std::move(child), path);
  }
  set_project_of(top_again.get(), project, true, root.string());
}

}  // namespace ubc::quota
