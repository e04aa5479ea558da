// A CT's CPU policy as its config holds it (CPUUNITS, CPULIMIT, CPUS). sched/ has the
// mapping onto the cgroup (cpu_policy.h) and writes it there (cpu_cgroup.h).
#pragma once

#include <filesystem>
#include <string>

#include "sched/cpu_policy.h"
#include "ubc/ct_config.h"

namespace ubc {

// The settings a config holds; throws ConfigError naming the line of a bad value.
sched::CpuSettings cpu_settings_from(const CtConfig& config);
void store_cpu_settings(CtConfig& config, const sched::CpuSettings& settings);
// `over` wins where it has a value.
sched::CpuSettings merge(const sched::CpuSettings& base, const sched::CpuSettings& over);

// Where a running CT's settings changed without --save are kept (gone with its run).
std::filesystem::path live_cpu_settings_file(const std::string& ctid);

}  // namespace ubc
