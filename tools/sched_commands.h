// ubcctl's CPU scheduler verbs: `load --cpu-scheduler`, `sched status|load|unload`, and
// `set 0 --cpuunits` (the host group).
#pragma once

#include <string>

#include "ubc/host.h"

namespace ubc::cli {

// auto: the sched_ext scheduler where the kernel has sched_ext, else the cgroup fallback;
// sched_ext: that scheduler or an error; cgroup: the kernel's fair class with cpu.weight,
// cpu.max and cpuset (no BPF scheduler).
enum class CpuSchedulerChoice { automatic, sched_ext, cgroup };
CpuSchedulerChoice parse_cpu_scheduler_choice(const std::string& text);

// `ubcctl load`: the engine, then the CPU scheduler as chosen. An explicit sched_ext that
// fails unloads the engine again; auto falls back to the cgroup enforcer and says why.
int load(Host& host, CpuSchedulerChoice choice);

// `ubcctl sched status`: which enforcer runs, the host group's weight, why the kernel
// ejected the scheduler if it did, and per-group CPU time and throttling.
int sched_status(Host& host);
// For `doctor`: whether ubc's scheduler runs, or why the kernel ejected it.
void print_scheduler_health(Host& host);
int sched_load(Host& host);
int sched_unload(Host& host);

}  // namespace ubc::cli
