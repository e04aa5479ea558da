// chkpnt's first stage and restore's last, as vzctl names them: a running CT suspended
// (every task of its cgroup tree frozen by the kernel) and resumed in place.
#include <stdexcept>

#include "loader/cgroup.h"
#include "ubc/containers.h"

namespace ubc {

namespace {

// Freezing waits for every task to reach a point where it can stop (a task in an
// uninterruptible sleep, such as a slow disk write, gets there when it wakes).
constexpr int kFreezeTimeoutMs = 30000;

}  // namespace

bool Containers::frozen(const std::string& ctid) const {
  return cgroup::is_frozen(host_.cgroup_of(ctid));
}

void Containers::suspend(const std::string& ctid) {
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime suspends it");
  if (!running_init(ctid)) throw std::runtime_error("CT " + ctid + " is not running");
  if (frozen(ctid)) throw std::runtime_error("CT " + ctid + " is suspended already");
  const auto cgroup = host_.cgroup_of(ctid);
  try {
    cgroup::set_frozen(cgroup, true, kFreezeTimeoutMs);
  } catch (const std::exception& error) {
    // Half frozen is neither state: the CT runs on as before, and the caller hears why the
    // freeze failed (and whether the thaw did too).
    try {
      cgroup::set_frozen(cgroup, false, kFreezeTimeoutMs);
    } catch (const std::exception& thaw_error) {
      throw std::runtime_error(std::string(error.what()) + "; thawing it again failed too: " + thaw_error.what());
    }
    throw;
  }
}

void Containers::resume(const std::string& ctid) {
  if (!running_init(ctid)) throw std::runtime_error("CT " + ctid + " is not running");
  if (!frozen(ctid)) throw std::runtime_error("CT " + ctid + " is not suspended");
  cgroup::set_frozen(host_.cgroup_of(ctid), false, kFreezeTimeoutMs);
}

void Containers::refuse_if_suspended(const std::string& ctid, const char* verb) const {
  if (frozen(ctid))
    throw std::runtime_error(std::string(verb) + ": CT " + ctid + " is suspended (`ubcctl chkpnt " + ctid +
                             " --resume` resumes it)");
}

}  // namespace ubc
