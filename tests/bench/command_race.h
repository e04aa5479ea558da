// Commands for the scheduler benchmark that start together, each in a cgroup of its own
// choosing, and are timed to the last one's exit: the wall time a workload spread over many
// CTs takes, against the same workload in one.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "loader/unique_fd.h"

namespace ubc::bench {

class CommandRace {
 public:
  CommandRace() = default;
  ~CommandRace();  // kills any command still running
  CommandRace(const CommandRace&) = delete;
  CommandRace& operator=(const CommandRace&) = delete;

  // Forks a child that joins `cgroup` and waits for run() to exec `argv` (PATH searched,
  // output discarded).
  void add(const std::filesystem::path& cgroup, const std::vector<std::string>& argv);
  // Starts every command at once and returns the seconds until the last one exited; throws
  // if any failed.
  double run();

 private:
  std::vector<pid_t> children_;
  UniqueFd start_read_, start_write_;
};

}  // namespace ubc::bench
