// A CT's second-level disk quota (vzctl's QUOTAUGIDLIMIT): the quotactl(2) and
// quotactl_fd(2) calls of its processes, handed to the host by their seccomp filter
// (ubc/ct_call_service.h), made by the host on the filesystem of the CT's files with the
// CT's ids turned into the host's, as ubc/quota_call_policy.h decides. The CT's root runs
// setquota, edquota, quota and repquota on its / as on any disk with quotas: the device
// its mount table names is in its /dev (made at start, never openable by the CT), and the
// calls that name it are the only ones served. Users past their hard limit get EDQUOT from
// the kernel, under the CT's own project limit, which stays whatever they set.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>

#include "loader/notified_call.h"
#include "loader/unique_fd.h"
#include "ubc/quota_call_policy.h"

namespace ubc {

class CtQuotaCalls {
 public:
  struct Ct {
    std::filesystem::path root;    // VE_ROOT as the host sees it: its filesystem is served
    quota::IdRange users, groups;  // the CT's ids on the host
    ino_t user_namespace = 0;      // the CT's (its init's /proc/PID/ns/user inode)
    // QUOTAUGIDLIMIT now: how many ids may have limits; 0 turns the calls off (EPERM).
    std::function<std::uint64_t()> ugid_limit;
  };
  explicit CtQuotaCalls(Ct ct);

  // Answers `call`, a quotactl or quotactl_fd of a process of the CT.
  void answer(NotifiedCall& call) const;

 private:
  int serve(NotifiedCall& call) const;  // 0 or the errno the call fails with
  // Whether the call's `special` (or fd) names the CT's filesystem; else the errno.
  int names_ct_filesystem(NotifiedCall& call, bool by_fd) const;
  // Whether `host_id` may have limits: it has some already, or fewer than `limit` ids of the
  // CT (users and groups together) have any (QUOTAUGIDLIMIT).
  bool room_for_new_id(int type, std::uint32_t host_id, std::uint64_t limit) const;

  Ct ct_;
  UniqueFd root_;  // O_PATH
  dev_t device_ = 0;
};

}  // namespace ubc
