#include "ubc/ct_quota_calls.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/dqblk_xfs.h>
#include <linux/quota.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "loader/error.h"
#include "loader/id_quota.h"
#include "loader/open_in_root.h"

namespace ubc {

namespace {

std::optional<quota::QuotaCaller> read_caller(pid_t thread, ino_t ct_user_namespace) {
  const std::string dir = "/proc/" + std::to_string(thread);
  struct stat user_namespace {};
  if (::stat((dir + "/ns/user").c_str(), &user_namespace)) return std::nullopt;
  quota::QuotaCaller caller;
  caller.in_ct_user_namespace = user_namespace.st_ino == ct_user_namespace;
  // Read from the host's namespace, the ids are the host's.
  std::ifstream status(dir + "/status");
  bool have_uid = false, have_gid = false;
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string key;
    std::uint32_t real = 0, effective = 0;
    fields >> key;
    if (key == "Uid:" && fields >> real >> effective) {
      caller.host_euid = effective;
      have_uid = true;
    } else if (key == "Gid:" && fields >> real >> effective) {
      caller.host_groups.push_back(effective);
      have_gid = true;
    } else if (key == "Groups:") {
      for (std::uint32_t group = 0; fields >> group;) caller.host_groups.push_back(group);
    }
  }
  if (!have_uid || !have_gid) return std::nullopt;
  return caller;
}

// The id a Q_GETNEXTQUOTA or Q_XGETNEXTQUOTA found, in its answer.
std::uint32_t& found_id(int command, void* answer) {
  return command == Q_GETNEXTQUOTA ? static_cast<if_nextdqblk*>(answer)->dqb_id
                                   : static_cast<fs_disk_quota*>(answer)->d_id;
}

bool has_limits(const if_dqblk& entry) {
  return entry.dqb_bhardlimit || entry.dqb_bsoftlimit || entry.dqb_ihardlimit || entry.dqb_isoftlimit;
}

// Whether a set call's new values give the id any limit.
bool gives_limits(int command, const void* values) {
  if (command == Q_SETQUOTA) {
    const auto& block = *static_cast<const if_dqblk*>(values);
    return (block.dqb_valid & QIF_BLIMITS && (block.dqb_bhardlimit || block.dqb_bsoftlimit)) ||
           (block.dqb_valid & QIF_ILIMITS && (block.dqb_ihardlimit || block.dqb_isoftlimit));
  }
  const auto& quota = *static_cast<const fs_disk_quota*>(values);
  return (quota.d_fieldmask & FS_DQ_BHARD && quota.d_blk_hardlimit) ||
         (quota.d_fieldmask & FS_DQ_BSOFT && quota.d_blk_softlimit) ||
         (quota.d_fieldmask & FS_DQ_IHARD && quota.d_ino_hardlimit) ||
         (quota.d_fieldmask & FS_DQ_ISOFT && quota.d_ino_softlimit);
}

}  // namespace

CtQuotaCalls::CtQuotaCalls(Ct ct)
    : ct_(std::move(ct)), root_(::open(ct_.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
  if (!root_) throw_system_error("open(" + ct_.root.string() + ")");
  struct stat info {};
  if (::fstat(root_.get(), &info)) throw_system_error("fstat(" + ct_.root.string() + ")");
  device_ = info.st_dev;
}

void CtQuotaCalls::answer(NotifiedCall& call) const {
  if (const int error = serve(call)) {
    call.answer_error(error);
    return;
  }
  call.answer_value(0);
}

int CtQuotaCalls::serve(NotifiedCall& call) const {
  // The second level is off (QUOTAUGIDLIMIT 0): refused, as every other CT's quotactl.
  const std::uint64_t limit = ct_.ugid_limit();
  if (limit == 0) return EPERM;
  const auto& args = call.data().args;
  const bool by_fd = call.data().nr == SYS_quotactl_fd;
  const auto cmd = static_cast<std::uint32_t>(by_fd ? args[1] : args[0]);
  const auto id = static_cast<std::uint32_t>(args[2]);
  const std::uint64_t address = args[3];

  const auto caller = read_caller(call.thread(), ct_.user_namespace);
  if (!caller || !call.still_waiting()) return ESRCH;  // gone: nobody reads the answer
  const quota::QuotaCallPlan plan = quota::plan_quota_call(cmd, id, *caller, ct_.users, ct_.groups);
  if (plan.error) return plan.error;
  if (const int error = names_ct_filesystem(call, by_fd)) return error;

  const int command = plan.command->command;
  std::array<std::byte, std::max(sizeof(fs_quota_statv), sizeof(fs_disk_quota)) + 64> buffer{};
  static_assert(sizeof(if_nextdqblk) <= sizeof buffer && sizeof(fs_quota_stat) <= sizeof buffer);
  if (plan.command->in_bytes && !call.read(address, buffer.data(), plan.command->in_bytes)) return EFAULT;
  if (plan.command->sets_limits) {
    const std::uint32_t fields = command == Q_SETQUOTA ? reinterpret_cast<if_dqblk*>(buffer.data())->dqb_valid
                                                       : reinterpret_cast<fs_disk_quota*>(buffer.data())->d_fieldmask;
    if (!quota::settable_quota_fields(command, fields)) return EPERM;
    if (command == Q_XSETQLIM) reinterpret_cast<fs_disk_quota*>(buffer.data())->d_id = plan.host_id;
    if (gives_limits(command, buffer.data()) && !room_for_new_id(plan.type, plan.host_id, limit)) return ENOSPC;
  }
  if (quota::quotactl_fd(root_.get(), QCMD(command, plan.type), plan.host_id, buffer.data()) != 0) return errno;
  if (plan.command->returns_next_id) {
    // The next id with an entry may be past the CT's range: another CT's, or the host's.
    const auto ct_id = (plan.type == USRQUOTA ? ct_.users : ct_.groups).to_ct(found_id(command, buffer.data()));
    if (!ct_id) return ENOENT;
    found_id(command, buffer.data()) = *ct_id;
  } else if (command == Q_XGETQUOTA) {
    reinterpret_cast<fs_disk_quota*>(buffer.data())->d_id = id;
  }
  if (plan.command->out_bytes && !call.write(address, buffer.data(), plan.command->out_bytes)) return EFAULT;
  return 0;
}

int CtQuotaCalls::names_ct_filesystem(NotifiedCall& call, bool by_fd) const {
  const std::string dir = "/proc/" + std::to_string(call.thread());
  struct stat target {};
  if (by_fd) {
    // The caller's descriptor, as it has it.
    const UniqueFd file(
        ::open((dir + "/fd/" + std::to_string(static_cast<int>(call.data().args[0]))).c_str(), O_PATH | O_CLOEXEC));
    if (!file) return EBADF;
    if (!call.still_waiting()) return ESRCH;
    if (::fstat(file.get(), &target)) return EBADF;
    return target.st_dev == device_ ? 0 : ENODEV;
  }
  const std::uint64_t special = call.data().args[1];
  if (special == 0) return ENODEV;  // Q_SYNC of every filesystem: not the CT's to ask
  const auto path = call.read_string(special, PATH_MAX);
  if (!path) return EFAULT;
  // Resolved as the caller would: in its root, its mounts.
  const UniqueFd node = open_in_root(dir + "/root", *path, O_PATH | O_CLOEXEC);
  if (!node) return errno;
  if (!call.still_waiting()) return ESRCH;
  if (::fstat(node.get(), &target)) return errno;
  if (!S_ISBLK(target.st_mode)) return ENOTBLK;
  return target.st_rdev == device_ ? 0 : ENODEV;
}

bool CtQuotaCalls::room_for_new_id(int type, std::uint32_t host_id, std::uint64_t limit) const {
  if_dqblk current{};
  if (quota::quotactl_fd(root_.get(), QCMD(Q_GETQUOTA, type), host_id, &current) == 0 && has_limits(current))
    return true;  // a change of an id that has limits already
  const std::size_t limited = quota::count_limited_ids(root_.get(), USRQUOTA, ct_.users.host_first, ct_.users.count) +
                              quota::count_limited_ids(root_.get(), GRPQUOTA, ct_.groups.host_first, ct_.groups.count);
  return limited < limit;
}

}  // namespace ubc
