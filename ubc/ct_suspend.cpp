// chkpnt's first stage and restore's last, as vzctl names them: a running CT suspended
// (every task of its cgroup tree frozen by the kernel) and resumed in place.
#include <chrono>
#include <stdexcept>
#include <thread>

#include "loader/cgroup.h"
#include "ubc/containers.h"

namespace ubc {

namespace {

// Freezing waits for every task to reach a point where it can stop (a task in an
// uninterruptible sleep, such as a slow disk write, gets there when it wakes).
constexpr int kFreezeTimeoutMs = 30000;
// How long a suspend waits for the CT's vforks to end: as long as an exec can take on a
// loaded host.
constexpr auto kVforkWait = std::chrono::seconds(10);

// Freezes the tree at a point where CRIU can seize every task. A task waiting in vfork() for
// its child to exec or exit counts as frozen (the one frozen task in state D), but stops for
// a tracer only once that child has done so, and the child, frozen or seized, never does:
// CRIU would wait on the parent until its time-out and fail. Such a window is as long as an
// exec (a shell's every command, posix_spawn), so the tree is thawed and frozen again until
// none is open. Throws, the tree thawed, if one stays open (a child that never execs).
void freeze_where_seizable(const std::filesystem::path& cgroup, const std::string& ctid) {
  const auto deadline = std::chrono::steady_clock::now() + kVforkWait;
  for (;;) {
    cgroup::set_frozen(cgroup, true, kFreezeTimeoutMs);
    const unsigned in_vfork = cgroup::read_task_states(cgroup).uninterruptible;
    if (in_vfork == 0) return;
    cgroup::set_frozen(cgroup, false, kFreezeTimeoutMs);
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(std::to_string(in_vfork) + " task(s) of CT " + ctid +
                               " wait in vfork() for a child that has neither exec'd nor exited for " +
                               std::to_string(kVforkWait.count()) +
                               " s: CRIU cannot seize them, so the CT is not suspended; it runs on");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

bool Containers::frozen(const std::string& ctid) const {
  return cgroup::is_frozen(host_.cgroup_of(ctid));
}

void Containers::suspend(const std::string& ctid) {
  suspend_held(ctid).release();  // suspended it stays
}

FreezeHold Containers::suspend_held(const std::string& ctid) {
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime suspends it");
  if (!running_init(ctid)) throw std::runtime_error("CT " + ctid + " is not running");
  if (frozen(ctid)) throw std::runtime_error("CT " + ctid + " is suspended already");
  const auto cgroup = host_.cgroup_of(ctid);
  FreezeHold hold(cgroup);
  try {
    freeze_where_seizable(cgroup, ctid);
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
  return hold;
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
