// A CT's CPU policy (CPUUNITS, CPULIMIT, CPUS in its config) applied to its cgroup's cpu.weight,
// cpu.max and cpuset.cpus. sched/cpu_policy.h has the mapping; this file has the plumbing.
#pragma once

#include <filesystem>

#include "sched/cpu_policy.h"
#include "ubc/ct_config.h"

namespace ubc {

// The settings a config holds; throws ConfigError naming the line of a bad value.
sched::CpuSettings cpu_settings_from(const CtConfig& config);
void store_cpu_settings(CtConfig& config, const sched::CpuSettings& settings);
// `over` wins where it has a value.
sched::CpuSettings merge(const sched::CpuSettings& base, const sched::CpuSettings& over);

// Writes the cgroup's cpu.weight, cpu.max and cpuset.cpus for `settings` (an unset value is
// OpenVZ's default: cpuunits 1000, no cpulimit, all CPUs). A controller the kernel lacks
// is skipped; `doctor` says so.
void apply_cpu_settings(const std::filesystem::path& cgroup, const sched::CpuSettings& settings);

// Which CPU scheduler enforces the policy: "sched_ext:<ops>" when a sched_ext scheduler is
// loaded, else the kernel's fair class with the cgroup fallback.
std::string active_cpu_scheduler();

}  // namespace ubc
