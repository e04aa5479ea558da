// Which quotactl calls of a CT the host serves, on which host id: the CT's root sets its own
// ids' limits, a user reads its own, nobody reaches a project, another CT's ids or the
// filesystem's switches.
#include "ubc/quota_call_policy.h"

#include <doctest/doctest.h>
#include <linux/dqblk_xfs.h>
#include <linux/quota.h>

#include <cerrno>

using ubc::quota::IdRange;
using ubc::quota::plan_quota_call;
using ubc::quota::QuotaCaller;

namespace {

const IdRange kCt{165536, 65536};

QuotaCaller ct_root() {
  return {true, 165536, {165536}};
}
QuotaCaller ct_user(std::uint32_t uid, std::vector<std::uint32_t> groups) {
  return {true, 165536 + uid, std::move(groups)};
}

std::uint32_t cmd(int command, int type) {
  return static_cast<std::uint32_t>(QCMD(command, type));
}

}  // namespace

TEST_CASE("quota ids: the CT's range, both ways, and nothing past it") {
  CHECK(kCt.to_host(0) == 165536u);
  CHECK(kCt.to_host(65535) == 231071u);
  CHECK_FALSE(kCt.to_host(65536).has_value());
  CHECK(kCt.to_ct(165536 + 1000) == 1000u);
  CHECK_FALSE(kCt.to_ct(165535).has_value());
  CHECK_FALSE(kCt.to_ct(231072).has_value());
}

TEST_CASE("quota calls: the CT's root sets and reads its users' and groups' limits on their host ids") {
  const auto set = plan_quota_call(cmd(Q_SETQUOTA, USRQUOTA), 1000, ct_root(), kCt, kCt);
  CHECK(set.error == 0);
  CHECK(set.host_id == 166536);
  CHECK(set.command->sets_limits);
  CHECK(set.command->in_bytes == sizeof(if_dqblk));
  const auto group = plan_quota_call(cmd(Q_XSETQLIM, GRPQUOTA), 50, ct_root(), kCt, kCt);
  CHECK(group.error == 0);
  CHECK(group.host_id == 165586);
  const auto next = plan_quota_call(cmd(Q_GETNEXTQUOTA, USRQUOTA), 0, ct_root(), kCt, kCt);
  CHECK(next.error == 0);
  CHECK(next.command->returns_next_id);
  CHECK(plan_quota_call(cmd(Q_GETFMT, USRQUOTA), 0, ct_root(), kCt, kCt).error == 0);
  CHECK(plan_quota_call(cmd(Q_GETINFO, GRPQUOTA), 0, ct_root(), kCt, kCt).error == 0);
}

TEST_CASE("quota calls: a user reads its own quota and its groups', no one else's, and sets nothing") {
  const QuotaCaller user = ct_user(1000, {165536 + 1000, 165536 + 100});
  CHECK(plan_quota_call(cmd(Q_GETQUOTA, USRQUOTA), 1000, user, kCt, kCt).error == 0);
  CHECK(plan_quota_call(cmd(Q_XGETQUOTA, GRPQUOTA), 100, user, kCt, kCt).error == 0);
  CHECK(plan_quota_call(cmd(Q_GETQUOTA, USRQUOTA), 1001, user, kCt, kCt).error == EPERM);
  CHECK(plan_quota_call(cmd(Q_GETQUOTA, GRPQUOTA), 101, user, kCt, kCt).error == EPERM);
  CHECK(plan_quota_call(cmd(Q_SETQUOTA, USRQUOTA), 1000, user, kCt, kCt).error == EPERM);
  CHECK(plan_quota_call(cmd(Q_GETNEXTQUOTA, USRQUOTA), 0, user, kCt, kCt).error == EPERM);
  CHECK(plan_quota_call(cmd(Q_GETFMT, USRQUOTA), 0, user, kCt, kCt).error == 0);
}

TEST_CASE("quota calls: hostile requests are refused before any host call") {
  // A project is the CT's first level, the host's.
  CHECK(plan_quota_call(cmd(Q_SETQUOTA, PRJQUOTA), 0, ct_root(), kCt, kCt).error == EPERM);
  CHECK(plan_quota_call(cmd(Q_XSETQLIM, PRJQUOTA), 100000, ct_root(), kCt, kCt).error == EPERM);
  // Ids past the CT's range: another CT's, or the host's.
  CHECK(plan_quota_call(cmd(Q_SETQUOTA, USRQUOTA), 65536, ct_root(), kCt, kCt).error == EINVAL);
  CHECK(plan_quota_call(cmd(Q_GETQUOTA, USRQUOTA), 0xffffffffu, ct_root(), kCt, kCt).error == EINVAL);
  // The filesystem's switches and grace periods are every CT's.
  for (const int command : {Q_QUOTAON, Q_QUOTAOFF, Q_SETINFO, Q_XQUOTAON, Q_XQUOTAOFF, Q_XQUOTARM})
    CHECK(plan_quota_call(cmd(command, USRQUOTA), 0, ct_root(), kCt, kCt).error == EPERM);
  // Unknown commands and types.
  CHECK(plan_quota_call(cmd(0x7777, USRQUOTA), 0, ct_root(), kCt, kCt).error == EINVAL);
  CHECK(plan_quota_call(cmd(Q_GETQUOTA, 3), 0, ct_root(), kCt, kCt).error == EINVAL);
  // Root of a user namespace nested in the CT is not the CT's root.
  QuotaCaller nested = ct_root();
  nested.in_ct_user_namespace = false;
  CHECK(plan_quota_call(cmd(Q_SETQUOTA, USRQUOTA), 1000, nested, kCt, kCt).error == EPERM);
  CHECK(plan_quota_call(cmd(Q_GETFMT, USRQUOTA), 0, nested, kCt, kCt).error == EPERM);
}

TEST_CASE("quota calls: a CT sets limits and grace times, never the usage the kernel counts") {
  using ubc::quota::settable_quota_fields;
  CHECK(settable_quota_fields(Q_SETQUOTA, QIF_LIMITS));
  CHECK(settable_quota_fields(Q_SETQUOTA, QIF_LIMITS | QIF_TIMES));
  CHECK_FALSE(settable_quota_fields(Q_SETQUOTA, QIF_ALL));
  CHECK_FALSE(settable_quota_fields(Q_SETQUOTA, QIF_SPACE));
  CHECK(settable_quota_fields(Q_XSETQLIM, FS_DQ_LIMIT_MASK));
  CHECK_FALSE(settable_quota_fields(Q_XSETQLIM, FS_DQ_LIMIT_MASK | FS_DQ_BCOUNT));
  CHECK_FALSE(settable_quota_fields(Q_XSETQLIM, FS_DQ_ICOUNT));
}
