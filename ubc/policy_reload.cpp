#include "ubc/policy_reload.h"

#include <unistd.h>

#include <map>

#include "ubc/cpu_control.h"
#include "ubc/cpu_settings.h"
#include "ubc/ct_config.h"
#include "ubc/io_settings.h"

namespace ubc {

ReloadResult reload_policy(Host& host) {
  struct Planned {
    std::string ctid;
    std::map<ubc_resource, Limits> limits;
    sched::CpuSettings cpu;
    sched::IoSettings io;
    CtSettings settings;
  };
  const auto page_size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<Planned> plan;
  ReloadResult result;
  try {
    result.repairs = host.reconcile();
    for (const auto& ctid : host.list()) {
      const CtConfig config = CtConfig::load(host.config_path(ctid));
      Planned planned{ctid, config.beancounters(page_size), cpu_settings_from(config), io_settings_from(config),
                      CtSettings::from(config)};
      for (const auto& [resource, limits] : planned.limits)
        if (limits.barrier > limits.limit)
          throw ConfigError(host.config_path(ctid), 0,
                            std::string(resource_info(resource).name) + ": barrier is above limit");
      // A CT whose cgroup the engine does not know (another runtime recreated it) could
      // take no limit: refuse before anything changes.
      if (!host.slot_index(ctid))
        throw std::runtime_error("CT " + ctid + ": its cgroup " + host.cgroup_of(ctid).string() +
                                 " is not registered with the engine (recreated since the load?); "
                                 "destroy and create it again, or reload the engine");
      plan.push_back(std::move(planned));
    }
  } catch (const std::exception& error) {
    result.error = error.what();
    return result;
  }
  // What runs now, to put back if the kernel refuses a write half-way.
  struct Previous {
    std::string ctid;
    ubc_resource resource;
    Limits limits;
  };
  std::vector<Previous> previous;
  try {
    for (const auto& planned : plan) {
      for (const auto& [resource, limits] : planned.limits) {
        const ubc_counter now = host.counter(planned.ctid, resource);
        previous.push_back({planned.ctid, resource, {now.barrier, now.limit}});
        host.set_limits(planned.ctid, resource, limits);
      }
    }
  } catch (const std::exception& error) {
    for (auto undo = previous.rbegin(); undo != previous.rend(); ++undo) {
      try {
        host.set_limits(undo->ctid, undo->resource, undo->limits);
      } catch (const std::exception&) {
        // Nothing better to do: the error below names the first failure.
      }
    }
    result.error = error.what();
    return result;
  }
  for (const auto& planned : plan) {
    // CPU and I/O settings last: a cgroup file the kernel refuses here is reported, the limits stay.
    try {
      if (planned.cpu.cpuunits || planned.cpu.cpulimit || planned.cpu.cpus)
        CpuControl(host).set_ct(planned.ctid, planned.cpu);
    } catch (const std::exception& error) {
      result.error = "CT " + planned.ctid + ": CPU settings: " + error.what();
    }
    try {
      apply_ct_io_policy(host.cgroup_of(planned.ctid), planned.io, planned.settings);
    } catch (const std::exception& error) {
      result.error = "CT " + planned.ctid + ": I/O settings: " + error.what();
    }
    ++result.cts;
  }
  result.applied = true;
  return result;
}

}  // namespace ubc
