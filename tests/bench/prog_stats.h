// Where a hook's time goes: the kernel's run-time statistics of ubc's BPF programs
// (BPF_STATS_RUN_TIME, enabled while a ProgramStats lives), read before and after a run.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "loader/unique_fd.h"

namespace ubc::bench {

struct ProgramCost {
  std::uint64_t runs = 0;
  std::uint64_t nanoseconds = 0;
};

class ProgramStats {
 public:
  ProgramStats();  // turns the statistics on; throws with the failing call and errno

  // Every loaded program whose name starts with "ubc_", by name, as counted so far.
  std::map<std::string, ProgramCost> read() const;

 private:
  UniqueFd enabled_;
};

// What ran between two reads, without the programs that did not.
std::map<std::string, ProgramCost> difference(const std::map<std::string, ProgramCost>& before,
                                              const std::map<std::string, ProgramCost>& after);

}  // namespace ubc::bench
