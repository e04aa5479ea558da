#include "sched/cpu_cgroup.h"

#include <stdexcept>

#include "loader/cgroup.h"

namespace ubc::sched {
namespace fs = std::filesystem;

using cgroup::first_line;

void apply_cpu_settings(const fs::path& cgroup, const CpuSettings& settings) {
  if (fs::exists(cgroup / "cpu.weight")) {
    cgroup::write_file(cgroup / "cpu.weight", std::to_string(cpu_weight(settings.cpuunits.value_or(kDefaultCpuUnits))));
    cgroup::write_file(cgroup / "cpu.max", cpu_max(settings.cpulimit.value_or(0), settings.cpus.value_or(0)));
  } else if (settings.cpuunits || settings.cpulimit || settings.cpus) {
    throw std::runtime_error("the cgroup v2 cpu controller is not enabled for " + cgroup.string() +
                             "; cpuunits, cpulimit and cpus need it");
  }
  if (fs::exists(cgroup / "cpuset.cpus") && (settings.cpus || !first_line(cgroup / "cpuset.cpus").empty())) {
    const std::string online = first_line("/sys/devices/system/cpu/online");
    cgroup::write_file(cgroup / "cpuset.cpus", cpuset_cpus(settings.cpus.value_or(0), online));
  }
}

void copy_cpu_policy(const fs::path& from, const fs::path& to) {
  for (const char* file : {"cpu.weight", "cpu.max", "cpuset.cpus"}) {
    if (!fs::exists(from / file) || !fs::exists(to / file)) continue;
    const std::string value = first_line(from / file);
    if (!value.empty()) cgroup::write_file(to / file, value);
  }
}

std::string active_cpu_scheduler() {
  const std::string state = first_line("/sys/kernel/sched_ext/state");
  if (state == "enabled") return "sched_ext:" + first_line("/sys/kernel/sched_ext/root/ops");
  return "cfs+cgroup (cpu.weight, cpu.max, cpuset.cpus)";
}

}  // namespace ubc::sched
