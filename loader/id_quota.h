// A filesystem's user and group quotas (ext4, XFS): the kernel calls behind a CT's
// second-level quota (ubc/ct_quota_calls.h), on a range of host ids that is one CT's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace ubc::quota {

// quotactl_fd(2): `cmd` is QCMD(command, type). Returns 0, or -1 with errno set.
int quotactl_fd(int fd, std::uint32_t cmd, std::uint32_t id, void* addr);

// Whether the filesystem holding `path` enforces both user and group quotas (ext4 mounted
// with usrquota,grpquota; XFS with uquota,gquota). Throws only for a path that cannot be opened.
bool id_quotas_enforced(const std::filesystem::path& path);

// How many ids of host_first..host_first+count-1 have a limit of quota `type` (USRQUOTA,
// GRPQUOTA) on the filesystem of `fd`.
std::size_t count_limited_ids(int fd, int type, std::uint32_t host_first, std::uint32_t count);

// Takes every user and group limit of the range off the filesystem holding `path`: a range
// given to a new CT must not come with an old one's limits. Throws SystemError.
void clear_id_limits(const std::filesystem::path& path, std::uint32_t host_first, std::uint32_t count);

}  // namespace ubc::quota
