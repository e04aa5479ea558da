#include "ubc/cpu_settings.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "loader/cgroup.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

unsigned host_cpus() {
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1;
}

std::string first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

sched::CpuSettings cpu_settings_from(const CtConfig& config) {
  sched::CpuSettings settings;
  auto parse = [&](const char* key, auto parser) -> std::optional<std::uint32_t> {
    const auto value = config.get(key);
    if (!value || value->empty()) return std::nullopt;
    try {
      return parser(*value);
    } catch (const std::invalid_argument& error) {
      throw ConfigError(config.file(), config.line_of(key), std::string(key) + ": " + error.what());
    }
  };
  settings.cpuunits = parse("CPUUNITS", [](const std::string& v) { return sched::parse_cpuunits(v); });
  settings.cpulimit = parse("CPULIMIT", [](const std::string& v) { return sched::parse_cpulimit(v, host_cpus()); });
  settings.cpus = parse("CPUS", [](const std::string& v) { return sched::parse_cpus(v, host_cpus()); });
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

void apply_cpu_settings(const fs::path& cgroup, const sched::CpuSettings& settings) {
  if (fs::exists(cgroup / "cpu.weight")) {
    cgroup::write_file(cgroup / "cpu.weight",
                       std::to_string(sched::cpu_weight(settings.cpuunits.value_or(sched::kDefaultCpuUnits))));
    cgroup::write_file(cgroup / "cpu.max", sched::cpu_max(settings.cpulimit.value_or(0), settings.cpus.value_or(0)));
  } else if (settings.cpuunits || settings.cpulimit || settings.cpus) {
    throw std::runtime_error("the cgroup v2 cpu controller is not enabled for " + cgroup.string() +
                             "; cpuunits, cpulimit and cpus need it");
  }
  if (fs::exists(cgroup / "cpuset.cpus") && (settings.cpus || !first_line(cgroup / "cpuset.cpus").empty())) {
    const std::string online = first_line("/sys/devices/system/cpu/online");
    cgroup::write_file(cgroup / "cpuset.cpus", sched::cpuset_cpus(settings.cpus.value_or(0), online));
  }
}

std::string active_cpu_scheduler() {
  const std::string state = first_line("/sys/kernel/sched_ext/state");
  if (state == "enabled") return "sched_ext:" + first_line("/sys/kernel/sched_ext/root/ops");
  return "cfs+cgroup (cpu.weight, cpu.max, cpuset.cpus)";
}

}  // namespace ubc
