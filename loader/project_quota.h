// A filesystem's project quotas (ext4, XFS): the kernel's quota calls on one project id,
// and a directory tree given to a project. A CT's private area is one project; the
// filesystem refuses what would pass its limits (EDQUOT), and statfs() of a directory of
// the project reports the project's limits and use (`df` in the CT shows its own disk).
#pragma once

#include <cstdint>
#include <filesystem>

namespace ubc::quota {

// Limits in 1 KiB blocks and inodes; 0: none.
struct ProjectLimits {
  std::uint64_t block_soft = 0, block_hard = 0;
  std::uint64_t inode_soft = 0, inode_hard = 0;
};

struct ProjectUsage {
  std::uint64_t bytes = 0, inodes = 0;
  ProjectLimits limits;
  // When a soft limit passed stops being allowed (seconds since the epoch); 0: not over it.
  std::int64_t block_grace_end = 0, inode_grace_end = 0;
};

// Whether the filesystem holding `path` enforces project quotas (ext4 mounted with
// prjquota, XFS with pquota). Throws only for a path that cannot be opened.
bool project_quota_enforced(const std::filesystem::path& path);

void set_project_limits(const std::filesystem::path& on, std::uint32_t project, const ProjectLimits& limits);
ProjectUsage project_usage(const std::filesystem::path& on, std::uint32_t project);
// The time a soft limit may be passed, for every project of the filesystem (the kernel
// keeps one grace period per filesystem and quota type).
void set_project_grace(const std::filesystem::path& on, std::uint64_t seconds);

// The project of the file or directory `path`.
std::uint32_t project_of(const std::filesystem::path& path);
// Gives `root` and everything below it on the same filesystem to `project`, directories
// with the inherit flag so that what is made in them later is the project's too. Walks by
// file descriptors without following a symbolic link, opens nothing but directories and
// regular files (a device node or fifo is left in its project: it holds no blocks), and
// does not cross into other filesystems. Throws SystemError naming the path that failed.
void assign_project(const std::filesystem::path& root, std::uint32_t project);

}  // namespace ubc::quota
