// The CPU policy written where the kernel enforces it: a CT's cgroup's cpu.weight, cpu.max
// and cpuset.cpus (read by the kernel's fair class, and by ubc's sched_ext scheduler through
// its cgroup callbacks).
#pragma once

#include <filesystem>
#include <string>

#include "sched/cpu_policy.h"

namespace ubc::sched {

// Writes the cgroup's cpu.weight, cpu.max and cpuset.cpus for `settings` (an unset value is
// OpenVZ's default: cpuunits 1000, no cpulimit, all CPUs). A controller the kernel lacks
// is skipped; `doctor` says so.
void apply_cpu_settings(const std::filesystem::path& cgroup, const CpuSettings& settings);

// Gives `to` the CPU policy `from` has now (cpu.weight, cpu.max, cpuset.cpus, each where
// both cgroups have it): a CT's helper cgroup under the kernel's fair class, where ubc's
// scheduler does not run the helpers in the CT's group, is held to the CT's own limits.
void copy_cpu_policy(const std::filesystem::path& from, const std::filesystem::path& to);

// Which CPU scheduler enforces the policy: "sched_ext:<ops>" when a sched_ext scheduler is
// loaded, else the kernel's fair class with the cgroup fallback.
std::string active_cpu_scheduler();

}  // namespace ubc::sched
