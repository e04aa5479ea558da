// A CT frozen by a ubcctl that may die before it is done (kill -9, a closed terminal): a
// suspend waits out vforks, a chkpnt writes its state, each before CRIU's own process takes
// over (ubc/criu_run.h). Until then the freeze is held, and whatever ends the holder, the CT
// is thawed again rather than left frozen with nobody to resume it.
#pragma once

#include <filesystem>

#include "loader/unique_fd.h"

namespace ubc {

class FreezeHold {
 public:
  // Taken before `cgroup` is frozen: a watcher process, in a session of its own, thaws it
  // once every holder has died without releasing the hold. The holders are this process
  // and any child it forks meanwhile that has not exec'd (the process that waits for CRIU,
  // which releases the hold once it has settled the freeze: AfterCriu).
  explicit FreezeHold(const std::filesystem::path& cgroup);
  // Released: whoever ends the hold in order settles the freeze itself (keeps it, or has
  // thawed the CT on its way out of a failure). Only a holder's death is the watcher's.
  ~FreezeHold() { release(); }
  FreezeHold(FreezeHold&&) noexcept = default;
  FreezeHold& operator=(FreezeHold&&) noexcept = default;

  void release() noexcept;
  // The descriptor a forked holder releases the hold on (release_held).
  int holder_fd() const noexcept { return held_.get(); }

 private:
  UniqueFd held_;  // this end of the watcher's socket
};

// Releases the hold whose holder_fd() is `fd`, from a forked holder (allocates nothing).
void release_held(int fd) noexcept;

}  // namespace ubc
