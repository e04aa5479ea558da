#include "ubc/cpu_settings.h"

#include <unistd.h>

#include <stdexcept>

namespace ubc {

namespace {

unsigned host_cpus() {
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1;
}

}  // namespace

sched::CpuSettings cpu_settings_from(const CtConfig& config) {
  sched::CpuSettings settings;
  settings.cpuunits = config.parsed("CPUUNITS", [](const std::string& v) { return sched::parse_cpuunits(v); });
  settings.cpulimit =
      config.parsed("CPULIMIT", [](const std::string& v) { return sched::parse_cpulimit(v, host_cpus()); });
  settings.cpus = config.parsed("CPUS", [](const std::string& v) { return sched::parse_cpus(v, host_cpus()); });
  return settings;
}

void store_cpu_settings(CtConfig& config, const sched::CpuSettings& settings) {
  if (settings.cpuunits) config.set("CPUUNITS", std::to_string(*settings.cpuunits));
  if (settings.cpulimit) config.set("CPULIMIT", std::to_string(*settings.cpulimit));
  if (settings.cpus) config.set("CPUS", std::to_string(*settings.cpus));
}

sched::CpuSettings merge(const sched::CpuSettings& base, const sched::CpuSettings& over) {
  return {over.cpuunits ? over.cpuunits : base.cpuunits, over.cpulimit ? over.cpulimit : base.cpulimit,
          over.cpus ? over.cpus : base.cpus};
}

std::filesystem::path live_cpu_settings_file(const std::string& ctid) {
  return run_dir() / (ctid + ".cpu");
}

}  // namespace ubc
