// CPU load for the CPU policy tests: busy loops in a CT, and the CPU time the kernel's own
// accounting (cgroup cpu.stat) says a CT used.
#pragma once

#include <cstdint>
#include <string>
#include <thread>

#include "workload.h"

namespace ubc::test {

// A file of the CT's cgroup, without its trailing newline.
std::string cgroup_file(const ScopedCt& ct, const char* name);
// usage_usec of the CT's cgroup cpu.stat.
std::uint64_t usage_usec(const ScopedCt& ct);
// `hogs` busy processes in the CT's cgroup for `seconds` (> 0), started together
// (tests/bench/hogs.h), on a thread that returns when they end.
std::thread burn(const ScopedCt& ct, int hogs, double seconds);
int online_cpus();

// A hostile CT's load on its host helpers: it rereads /proc/user_beancounters (which costs
// its /proc view's server far more than the reader) for `seconds`, and the CPU the CT's
// cgroup and its helper cgroup used meanwhile, as shares of one CPU over the run.
struct HelperLoad {
  std::string reads;  // how many times the CT read the file
  double seconds = 0;
  double ct_share = 0;
  double helper_share = 0;
};
HelperLoad reread_beancounters(const std::string& ctid, double seconds);

}  // namespace ubc::test
