#include "ubc/quota_call_policy.h"

#include <linux/dqblk_xfs.h>
#include <linux/quota.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace ubc::quota {

std::optional<std::uint32_t> IdRange::to_host(std::uint32_t ct_id) const {
  if (ct_id >= count) return std::nullopt;
  return host_first + ct_id;
}

std::optional<std::uint32_t> IdRange::to_ct(std::uint32_t host_id) const {
  if (host_id < host_first || host_id - host_first >= count) return std::nullopt;
  return host_id - host_first;
}

const QuotaCommand* find_quota_command(int command) {
  using A = QuotaCommand::Access;
  static const std::array<QuotaCommand, 18> commands{{
      {Q_SYNC, 0, 0, false, false, false, A::anyone},
      {Q_GETFMT, 0, sizeof(std::uint32_t), false, false, false, A::anyone},
      {Q_GETINFO, 0, sizeof(if_dqinfo), false, false, false, A::anyone},
      {Q_GETQUOTA, 0, sizeof(if_dqblk), true, false, false, A::owner_or_ct_root},
      {Q_SETQUOTA, sizeof(if_dqblk), 0, true, false, true, A::ct_root},
      {Q_GETNEXTQUOTA, 0, sizeof(if_nextdqblk), true, true, false, A::ct_root},
      {Q_QUOTAON, 0, 0, false, false, false, A::host_only},
      {Q_QUOTAOFF, 0, 0, false, false, false, A::host_only},
      {Q_SETINFO, 0, 0, false, false, false, A::host_only},
      {Q_XGETQSTAT, 0, sizeof(fs_quota_stat), false, false, false, A::anyone},
      {Q_XGETQSTATV, sizeof(fs_quota_statv), sizeof(fs_quota_statv), false, false, false, A::anyone},
      {Q_XQUOTASYNC, 0, 0, false, false, false, A::anyone},
      {Q_XGETQUOTA, 0, sizeof(fs_disk_quota), true, false, false, A::owner_or_ct_root},
      {Q_XSETQLIM, sizeof(fs_disk_quota), 0, true, false, true, A::ct_root},
      {Q_XGETNEXTQUOTA, 0, sizeof(fs_disk_quota), true, true, false, A::ct_root},
      {Q_XQUOTAON, 0, 0, false, false, false, A::host_only},
      {Q_XQUOTAOFF, 0, 0, false, false, false, A::host_only},
      {Q_XQUOTARM, 0, 0, false, false, false, A::host_only},
  }};
  const auto found = std::find_if(commands.begin(), commands.end(),
                                  [command](const QuotaCommand& known) { return known.command == command; });
  return found == commands.end() ? nullptr : &*found;
}

QuotaCallPlan plan_quota_call(std::uint32_t cmd, std::uint32_t id, const QuotaCaller& caller, const IdRange& users,
                              const IdRange& groups) {
  QuotaCallPlan plan;
  plan.command = find_quota_command(static_cast<int>(cmd >> SUBCMDSHIFT));
  plan.type = static_cast<int>(cmd & SUBCMDMASK);
  if (!plan.command || plan.type > PRJQUOTA) {
    plan.error = EINVAL;
    return plan;
  }
  // Every answer is about the CT's ids as its own namespace numbers them: a namespace
  // nested in it numbers them otherwise, and holds no power over the CT's files.
  if (plan.type == PRJQUOTA || !caller.in_ct_user_namespace) {
    plan.error = EPERM;
    return plan;
  }
  const IdRange& range = plan.type == USRQUOTA ? users : groups;
  if (plan.command->takes_id) {
    const auto host_id = range.to_host(id);
    if (!host_id) {
      plan.error = EINVAL;
      return plan;
    }
    plan.host_id = *host_id;
  }
  const bool ct_root = users.to_host(0) == caller.host_euid;
  switch (plan.command->access) {
    case QuotaCommand::Access::anyone:
      break;
    case QuotaCommand::Access::owner_or_ct_root: {
      const bool owner = plan.type == USRQUOTA ? caller.host_euid == plan.host_id
                                               : std::find(caller.host_groups.begin(), caller.host_groups.end(),
                                                           plan.host_id) != caller.host_groups.end();
      if (!owner && !ct_root) plan.error = EPERM;
      break;
    }
    case QuotaCommand::Access::ct_root:
      if (!ct_root) plan.error = EPERM;
      break;
    case QuotaCommand::Access::host_only:
      plan.error = EPERM;
      break;
  }
  return plan;
}

bool settable_quota_fields(int command, std::uint32_t fields) {
  if (command == Q_SETQUOTA) return (fields & ~static_cast<std::uint32_t>(QIF_LIMITS | QIF_TIMES)) == 0;
  if (command == Q_XSETQLIM)
    return (fields & ~static_cast<std::uint32_t>(FS_DQ_LIMIT_MASK | FS_DQ_TIMER_MASK | FS_DQ_WARNS_MASK)) == 0;
  return true;
}

}  // namespace ubc::quota
