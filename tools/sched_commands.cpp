#include "tools/sched_commands.h"

#include <cstdio>
#include <stdexcept>

#include "loader/cgroup.h"
#include "loader/scheduler.h"
#include "sched/cpu_cgroup.h"
#include "sched/cpu_policy.h"
#include "ubc/containers.h"
#include "ubc/cpu_control.h"
#include "ubc/cpu_settings.h"

namespace ubc::cli {

int load(Host& host, CpuSchedulerChoice choice) {
  const BringUpReport report = bring_up_engine(host, choice);
  if (report.remounted_nsdelegate)
    std::printf("remounted %s with nsdelegate: a CT cannot write its own cgroup limits\n",
                cgroup::find_v2_mount().value_or("cgroup2").c_str());
  std::printf("engine loaded and pinned in %s\n", host.paths().pin_dir.c_str());
  if (report.device_rules_restored)
    std::printf("device rules restored for %d running CT(s)\n", report.device_rules_restored);
  std::printf("CPU policy: %s\n", report.cpu_policy.c_str());
  return 0;
}

int sched_load(Host& host) {
  CpuControl(host).load_scheduler();
  std::printf("CPU scheduler loaded, pinned in %s\n", Scheduler::pin_dir_for(host.paths().pin_dir).c_str());
  return 0;
}

int sched_unload(Host& host) {
  CpuControl(host).unload_scheduler();
  std::printf("CPU scheduler unloaded: every task is back on the kernel's fair class\n");
  return 0;
}

namespace {

const char* exit_kind_name(std::int64_t kind) {
  switch (kind) {
    case 1:
      return "done";
    case 64:
      return "unregistered (unloaded)";
    case 65:
      return "unregistered by the BPF program";
    case 66:
      return "unregistered by the kernel";
    case 67:
      return "SysRq-S";
    case 1024:
      return "runtime error";
    case 1025:
      return "error raised by the BPF program";
    case 1026:
      return "watchdog: a runnable task was stalled";
    default:
      return "unknown";
  }
}

void print_scheduler_state(const Scheduler& scheduler) {
  const bool running = Scheduler::running_ops().value_or("").starts_with("ubc");
  if (auto exit = scheduler.exit_info()) {
    std::printf("  ejected by the kernel: %s (kind %lld, %s)%s%s\n", exit_kind_name(exit->kind),
                static_cast<long long>(exit->kind), exit->reason.c_str(), exit->message.empty() ? "" : ": ",
                exit->message.c_str());
    std::printf(
        "  every task runs on the kernel's fair class now, which enforces the same cgroup files;\n"
        "  `ubcctl sched unload && ubcctl sched load` loads the scheduler again\n");
  } else if (running) {
    std::printf("  running: every task is scheduled by it\n");
  } else {
    std::printf("  pinned but not running (another scheduler, or the kernel refused it)\n");
  }
}

}  // namespace

void print_scheduler_health(Host& host) {
  if (!host.engine_loaded() || !CpuControl(host).scheduler_loaded()) return;
  std::printf("ubc's sched_ext scheduler: pinned in %s\n", Scheduler::pin_dir_for(host.paths().pin_dir).c_str());
  print_scheduler_state(Scheduler::open(host.paths().pin_dir));
}

int sched_status(Host& host) {
  std::printf("CPU scheduler: %s\n", sched::active_cpu_scheduler().c_str());
  if (!CpuControl(host).scheduler_loaded()) {
    if (auto reason = Scheduler::unavailable_reason())
      std::printf("sched_ext: unavailable, %s; the cgroup fallback enforces the policy\n", reason->c_str());
    else
      std::printf("ubc's sched_ext scheduler: not loaded (ubcctl sched load)\n");
    return 0;
  }
  const Scheduler scheduler = Scheduler::open(host.paths().pin_dir);
  std::printf("ubc's sched_ext scheduler: pinned in %s\n", Scheduler::pin_dir_for(host.paths().pin_dir).c_str());
  print_scheduler_state(scheduler);
  const auto groups = scheduler.groups();
  std::printf("  host group: cpu weight %u (HOST_CPUUNITS %u)\n",
              groups[UBC_SCHED_HOST_SLOT].weight ? groups[UBC_SCHED_HOST_SLOT].weight : UBC_SCHED_DEFAULT_WEIGHT,
              CpuControl(host).host_cpuunits());
  const auto stats = scheduler.stats();
  for (int stat = 0; stat < UBC_SCHED_STAT_COUNT; ++stat)
    std::printf("  %-58s %llu\n", std::string(sched_stat_description(static_cast<ubc_sched_stat>(stat))).c_str(),
                static_cast<unsigned long long>(stats[stat]));
  std::printf("\n%-12s %7s %12s %14s %18s\n", "CT", "WEIGHT", "QUOTA/PERIOD", "CPU_SECONDS", "THROTTLED_PERIODS");
  auto print_group = [](const std::string& name, const ubc_sched_ct& group) {
    const std::string quota =
        (group.quota_ns == 0 || group.quota_ns == UBC_SCHED_NO_QUOTA)
            ? "max"
            : std::to_string(group.quota_ns / 1000) + "/" + std::to_string(group.period_ns / 1000);
    std::printf("%-12s %7u %12s %14.3f %18llu\n", name.c_str(), group.weight ? group.weight : UBC_SCHED_DEFAULT_WEIGHT,
                quota.c_str(), static_cast<double>(group.runtime_ns) / 1e9,
                static_cast<unsigned long long>(group.throttled_periods));
  };
  print_group("host", groups[UBC_SCHED_HOST_SLOT]);
  for (const auto& ctid : host.list()) {
    const auto slot = host.slot_index(ctid);
    if (slot) print_group(ctid, groups[*slot]);
  }
  return 0;
}

}  // namespace ubc::cli
