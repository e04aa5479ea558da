// CPU hogs for the scheduler benchmark: busy processes, each placed in a cgroup with a nice
// value and optionally pinned to one CPU, started together and reporting the CPU time the
// kernel charged them (CLOCK_PROCESS_CPUTIME_ID), so shares are measured by the kernel's
// accounting, not by the scheduler under test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <vector>

#include "loader/unique_fd.h"

namespace ubc::bench {

struct HogSpec {
  std::filesystem::path cgroup;  // empty: stay in the benchmark's own cgroup
  int nice = 0;
  int cpu = -1;   // pin to this CPU; -1: any
  int group = 0;  // caller's label, e.g. the CT index, for summing
};

struct HogResult {
  HogSpec spec;
  double cpu_seconds = 0;
};

class HogRace {
 public:
  HogRace() = default;
  ~HogRace();  // kills any hog still running
  HogRace(const HogRace&) = delete;
  HogRace& operator=(const HogRace&) = delete;

  // Forks a hog that joins its cgroup, sets nice and affinity, then waits for run().
  void add(const HogSpec& spec);
  // Starts every hog at once, lets them spin for `duration`, and collects their CPU time.
  std::vector<HogResult> run(std::chrono::milliseconds duration);

 private:
  struct Hog {
    HogSpec spec;
    pid_t pid;
    UniqueFd result;
  };
  std::vector<Hog> hogs_;
  UniqueFd start_read_, start_write_;
};

// Sum of cpu_seconds of the results labelled `group`.
double group_seconds(const std::vector<HogResult>& results, int group);

}  // namespace ubc::bench
