// Bringing the engine up on a host: the one sequence `ubcctl load` and ubcd (when it finds
// no engine) both run, so that a host looks the same whichever loaded it.
#pragma once

#include <string>

#include "ubc/host.h"

namespace ubc {

// auto: the sched_ext scheduler where the kernel has sched_ext, else the cgroup fallback;
// sched_ext: that scheduler or an error; cgroup: the kernel's fair class with cpu.weight,
// cpu.max and cpuset (no BPF scheduler).
enum class CpuSchedulerChoice { automatic, sched_ext, cgroup };
// "auto", "sched_ext" or "cgroup"; throws std::invalid_argument for anything else.
CpuSchedulerChoice parse_cpu_scheduler_choice(const std::string& text);

struct BringUpReport {
  bool remounted_nsdelegate = false;  // the cgroup2 mount had to be made a delegation boundary
  int device_rules_restored = 0;      // running CTs whose device rules were put back
  bool scheduler_loaded = false;
  std::string cpu_policy;  // which CPU policy runs, and why, in one line
};

// Loads the engine (registering every CT with its config's limits), puts back the device
// rules of CTs that kept running while it was unloaded, then the CPU scheduler as chosen.
// An explicit sched_ext that fails unloads the engine again and throws; auto falls back
// to the cgroup policy and says why.
BringUpReport bring_up_engine(Host& host, CpuSchedulerChoice choice);

}  // namespace ubc
