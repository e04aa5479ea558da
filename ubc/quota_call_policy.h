// Which quotactl(2) calls of a CT's processes the host serves, and as what host call: the
// pure part of the second-level disk quota (ubc/ct_quota_calls.h makes the calls). A CT with
// a user namespace of its own has host uids and gids no other CT has (ubc/userns_ranges.h),
// so the filesystem's user and group quotas on them are that CT's, and its root may set
// them, as the kernel would let a CAP_SYS_ADMIN caller: limits only, on its own ids, never
// a project (the first level, the host's) and never a switch of the whole filesystem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ubc::quota {

// A CT's ids 0..count-1 are the host's host_first..host_first+count-1 (USERNS_IDMAP).
struct IdRange {
  std::uint32_t host_first = 0, count = 0;

  std::optional<std::uint32_t> to_host(std::uint32_t ct_id) const;
  std::optional<std::uint32_t> to_ct(std::uint32_t host_id) const;
};

// Who called, as the host reads it from /proc/TID/status (host ids) and /proc/TID/ns/user.
struct QuotaCaller {
  bool in_ct_user_namespace = false;  // the CT's own, not one nested in it
  std::uint32_t host_euid = 0;
  std::vector<std::uint32_t> host_groups;  // the effective gid and the supplementary ones
};

// One quotactl command: what it carries between the caller and the kernel, and who may.
struct QuotaCommand {
  enum class Access {
    anyone,            // Q_GETFMT, Q_GETINFO, Q_SYNC, XFS's statistics
    owner_or_ct_root,  // reading one id's quota: that user, a member of that group, or root
    ct_root,           // setting limits, walking every id
    host_only,         // quotas on or off, grace periods: the filesystem's, for all CTs
  };
  int command = 0;               // Q_GETQUOTA, Q_XSETQLIM, ...
  std::size_t in_bytes = 0;      // read from the caller's `addr` before the call
  std::size_t out_bytes = 0;     // written to it after
  bool takes_id = false;         // `id` is a uid or gid, mapped to the host's
  bool returns_next_id = false;  // Q_GETNEXTQUOTA, Q_XGETNEXTQUOTA: the id found, mapped back
  bool sets_limits = false;      // counted against QUOTAUGIDLIMIT
  Access access = Access::host_only;
};

// nullptr for a command quotactl does not have.
const QuotaCommand* find_quota_command(int command);

struct QuotaCallPlan {
  int error = 0;  // nonzero: the call fails with this errno, and nothing else happens
  const QuotaCommand* command = nullptr;
  int type = 0;  // USRQUOTA or GRPQUOTA
  std::uint32_t host_id = 0;
};

// `cmd` as quotactl(2) takes it, QCMD(command, type); `id` the caller's. Errors as the kernel
// gives them: EINVAL for an unknown command or type or an id outside the CT's, EPERM for a
// caller without the right, and for project quotas and filesystem-wide switches.
QuotaCallPlan plan_quota_call(std::uint32_t cmd, std::uint32_t id, const QuotaCaller& caller, const IdRange& users,
                              const IdRange& groups);

// The limit fields a CT may set: Q_SETQUOTA's dqb_valid and Q_XSETQLIM's d_fieldmask. Usage
// figures are the kernel's to count.
bool settable_quota_fields(int command, std::uint32_t fields);

}  // namespace ubc::quota
