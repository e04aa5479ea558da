#include "ubc/policy_reload.h"

#include <unistd.h>

#include <map>

#include "ubc/cpu_settings.h"
#include "ubc/ct_config.h"

namespace ubc {

ReloadResult reload_policy(Host& host) {
  struct Planned {
    std::string ctid;
    std::map<ubc_resource, Limits> limits;
    sched::CpuSettings cpu;
  };
  const auto page_size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<Planned> plan;
  ReloadResult result;
  try {
    for (const auto& ctid : host.list()) {
      const CtConfig config = CtConfig::load(host.config_path(ctid));
      Planned planned{ctid, config.beancounters(page_size), cpu_settings_from(config)};
      for (const auto& [resource, limits] : planned.limits)
        if (limits.barrier > limits.limit)
          throw ConfigError(host.config_path(ctid), 0,
                            std::string(resource_info(resource).name) + ": barrier is above limit");
      plan.push_back(std::move(planned));
    }
  } catch (const std::exception& error) {
    result.error = error.what();
    return result;
  }
  for (const auto& planned : plan) {
    for (const auto& [resource, limits] : planned.limits) host.set_limits(planned.ctid, resource, limits);
    if (planned.cpu.cpuunits || planned.cpu.cpulimit || planned.cpu.cpus)
      host.set_cpu(planned.ctid, planned.cpu, false);
    ++result.cts;
  }
  result.applied = true;
  return result;
}

}  // namespace ubc
