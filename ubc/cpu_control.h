// The host's CPU policy: the sched_ext scheduler over the engine (loader/scheduler.h), the
// host group's share (OpenVZ's VE0: HOST_CPUUNITS in ubc.conf in the config directory,
// default 1000, as a CT), and a running CT's cpuunits / cpulimit / cpus.
#pragma once

#include <cstdint>
#include <string>

#include "sched/cpu_policy.h"
#include "ubc/host.h"

namespace ubc {

class CpuControl {
 public:
  explicit CpuControl(Host& host) : host_(host) {}

  // Loads the scheduler over the loaded engine (it shares the engine's CT registry).
  void load_scheduler();
  void unload_scheduler();
  bool scheduler_loaded() const;

  std::uint32_t host_cpuunits() const;
  // On the running scheduler (if any) and, with `save`, in ubc.conf.
  void set_host_cpuunits(std::uint32_t cpuunits, bool save);

  // Changes a running CT's settings at once (cpu.weight, cpu.max, cpuset.cpus). What runs
  // is kept in the run directory, apart from the config: the config's values, overridden
  // by those set since without --save.
  void set_ct(const std::string& ctid, const sched::CpuSettings& changes);
  // What a CT runs with: its config's settings, overridden by those set since.
  sched::CpuSettings running_settings(const std::string& ctid) const;

 private:
  Host& host_;
};

}  // namespace ubc
