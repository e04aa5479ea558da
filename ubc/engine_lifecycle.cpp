#include "ubc/engine_lifecycle.h"

#include <stdexcept>

#include "loader/scheduler.h"
#include "ubc/containers.h"
#include "ubc/cpu_control.h"

namespace ubc {

namespace {

constexpr const char* kCgroupPolicy = "cgroup fallback (cpu.weight, cpu.max, cpuset.cpus)";

}  // namespace

CpuSchedulerChoice parse_cpu_scheduler_choice(const std::string& text) {
  if (text == "auto") return CpuSchedulerChoice::automatic;
  if (text == "sched_ext") return CpuSchedulerChoice::sched_ext;
  if (text == "cgroup") return CpuSchedulerChoice::cgroup;
  throw std::invalid_argument("--cpu-scheduler " + text + ": expected auto, sched_ext or cgroup");
}

BringUpReport bring_up_engine(Host& host, CpuSchedulerChoice choice) {
  BringUpReport report;
  report.remounted_nsdelegate = host.load_engine().remounted_nsdelegate;
  report.device_rules_restored = Containers(host).restore_device_rules();
  if (choice == CpuSchedulerChoice::cgroup) {
    report.cpu_policy = std::string(kCgroupPolicy) + ", as asked";
    return report;
  }
  try {
    if (const auto unavailable = Scheduler::unavailable_reason()) throw std::runtime_error(*unavailable);
    CpuControl(host).load_scheduler();
  } catch (const std::exception& error) {
    if (choice == CpuSchedulerChoice::sched_ext) {
      host.unload_engine();
      throw std::runtime_error(std::string("the CPU scheduler did not load, so neither did the engine: ") +
                               error.what());
    }
    report.cpu_policy = std::string(kCgroupPolicy) + ": " + error.what();
    return report;
  }
  report.scheduler_loaded = true;
  report.cpu_policy =
      "sched_ext \"ubc\", two-level fair share, pinned in " + Scheduler::pin_dir_for(host.paths().pin_dir).string();
  return report;
}

}  // namespace ubc
