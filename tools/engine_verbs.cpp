// ubcctl's engine verbs: load, sched, unload, doctor and reload.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "loader/capabilities.h"
#include "loader/engine.h"
#include "sched/cpu_cgroup.h"
#include "sched/io_cgroup.h"
#include "tools/ct_commands.h"
#include "tools/sched_commands.h"
#include "tools/verbs.h"
#include "ubc/consistency.h"
#include "ubc/containers.h"
#include "ubc/cpu_settings.h"
#include "ubc/io_settings.h"
#include "ubc/policy_reload.h"
#include "ubc/resource_table.h"

namespace ubc::cli {

namespace {

void print_engine_health() {
  HostPaths paths;
  try {
    paths = HostPaths::discover();
  } catch (const std::exception&) {
    return;
  }
  if (!Engine::is_loaded(paths.pin_dir)) {
    std::printf("engine: not loaded (ubcctl load)\n");
    return;
  }
  const auto stats = Engine::open(paths.pin_dir).stats();
  std::printf("engine: loaded, pinned in %s\n", paths.pin_dir.c_str());
  for (int stat = 0; stat < UBC_STAT_COUNT; ++stat)
    std::printf("  %-66s %llu\n", std::string(engine_stat_description(static_cast<ubc_engine_stat>(stat))).c_str(),
                static_cast<unsigned long long>(stats[stat]));
  std::printf("  kernel recursion misses per program (runs the kernel skipped):\n");
  for (const auto& program : Engine::program_health(paths.pin_dir))
    std::printf("    %-28s %llu\n", program.name.c_str(), static_cast<unsigned long long>(program.recursion_misses));
}

// The I/O policy's mapping, and on each disk a CT's files or granted devices live on, which
// scheduler it runs and so whether ioprio orders anything there.
void print_io_policy(Host& host) {
  std::printf("\nI/O: ioprio 0..7 -> weight");
  for (std::uint32_t prio = 0; prio <= sched::kMaxIoPrio; ++prio) std::printf(" %u", sched::io_weight(prio));
  std::printf(" (OpenVZ's CFQ weights / 5; io.bfq.weight and io.weight)\n");
  std::map<sched::BlockDevice, std::vector<std::string>> users;
  for (const auto& ctid : host.list()) {
    try {
      for (const auto& device : ct_block_devices(Containers(host).settings(ctid))) users[device].push_back(ctid);
    } catch (const std::exception& error) {
      std::printf("  CT %s: %s\n", ctid.c_str(), error.what());
    }
  }
  if (users.empty()) std::printf("  no CT has its files on, or is granted, a block device\n");
  for (const auto& [device, cts] : users) {
    const auto policy = sched::io_policy_of(device);
    std::printf("  %-8s %-10s scheduler %-12s ioprio: %s (%zu CT(s))\n", device.text().c_str(), policy.name.c_str(),
                policy.scheduler.c_str(),
                policy.weight_file.empty()
                    ? "NOT ENFORCED; use bfq (echo bfq > /sys/block/DEV/queue/scheduler) or iocost (io.cost.qos)"
                    : ("enforced through " + policy.weight_file).c_str(),
                cts.size());
  }
}

// Exit statuses of `doctor --consistency` and `--repair`.
constexpr int kConsistent = 0;
constexpr int kBroken = 1;
constexpr int kRepairable = 3;

// Prints what check_consistency finds; returns kConsistent, kBroken or kRepairable.
int print_consistency(Host& host) {
  const auto findings = check_consistency(host);
  std::printf("consistency of configs, cgroups and the engine's slots: %s\n",
              findings.empty() ? "ok" : "findings below");
  int status = kConsistent;
  for (const auto& finding : findings) {
    const bool broken = finding.kind == ConsistencyFinding::Kind::broken;
    std::printf("  %-10s %s: %s\n", broken ? "BROKEN" : "repairable", finding.subject.c_str(), finding.problem.c_str());
    if (broken)
      status = kBroken;
    else if (status == kConsistent)
      status = kRepairable;
  }
  if (status == kRepairable)
    std::printf("  -> left by a command stopped half-way (or another runtime): `ubcctl doctor --repair` fixes it\n");
  return status;
}

int run_repair(Host& host) {
  for (const auto& repair : repair_consistency(host)) std::printf("repaired: %s\n", repair.c_str());
  return print_consistency(host);
}

int run_doctor() {
  bool ready = true;
  std::printf("%-22s %-8s %s\n", "CHECK", "STATUS", "DETAIL");
  for (const auto& cap : probe_capabilities()) {
    std::printf("%-22s %-8s %s\n", cap.name.c_str(), cap.available ? "ok" : (cap.required ? "MISSING" : "absent"),
                cap.detail.c_str());
    if (!cap.available) std::printf("%-22s %-8s -> %s\n", "", "", cap.consequence.c_str());
    ready = ready && (cap.available || !cap.required);
  }
  std::printf("\nCPU scheduler: %s\n", sched::active_cpu_scheduler().c_str());
  try {
    Host host(HostPaths::discover());
    cli::print_scheduler_health(host);
  } catch (const std::exception& error) {
    std::printf("  (scheduler state unreadable: %s)\n", error.what());
  }
  std::printf("beancounters: %s\n",
              ready ? "can be enforced on this host" : "cannot be enforced on this host (see MISSING above)");
  std::printf("\n%-14s %-13s %s\n", "RESOURCE", "STATUS", "KNOWN GAP (docs/RESOURCES.md)");
  for (const auto& row : resource_table()) {
    const std::string_view gap = row.known_gap;
    std::printf("%-14s %-13s %s\n", std::string(row.name).c_str(), std::string(support_name(row.support)).c_str(),
                gap.empty() ? "-" : std::string(gap).c_str());
  }
  print_engine_health();
  Host host(HostPaths::discover());
  print_io_policy(host);
  std::printf("\n");
  const int consistency = print_consistency(host);
  return ready && consistency != kBroken ? 0 : 1;
}

// Asks a running ubcd to reload (it logs the outcome), or reloads here.
int run_reload(Host& host) {
  std::ifstream pidfile(run_dir() / "ubcd.pid");
  pid_t daemon = 0;
  if (pidfile >> daemon && daemon > 0 && ::kill(daemon, SIGHUP) == 0) {
    std::printf("asked ubcd (pid %d) to reload; it logs the outcome\n", daemon);
    return 0;
  }
  const ReloadResult result = reload_policy(host);
  for (const auto& repair : result.repairs) std::printf("repaired: %s\n", repair.c_str());
  if (!result.applied) {
    std::fprintf(stderr, "ubcctl: reload refused, the running policy is unchanged: %s\n", result.error.c_str());
    return 1;
  }
  std::printf("applied the config of %d CT(s)\n", result.cts);
  if (!result.error.empty()) std::fprintf(stderr, "ubcctl: warning: %s\n", result.error.c_str());
  return 0;
}

void add_load(CLI::App& app, Action& chosen) {
  auto scheduler = std::make_shared<std::string>("auto");
  auto* verb = app.add_subcommand("load", "Load and attach the engine; it stays attached after ubcctl exits");
  verb->add_option("--cpu-scheduler", *scheduler,
                   "auto (sched_ext where the kernel has it, else cgroup), sched_ext, or cgroup (default auto)");
  verb->callback([&chosen, scheduler] {
    chosen = [scheduler](Session& session) { return load(session.host(), parse_cpu_scheduler_choice(*scheduler)); };
  });
}

void add_sched(CLI::App& app, Action& chosen) {
  auto action = std::make_shared<std::string>();
  auto* verb = app.add_subcommand("sched", "The CPU scheduler: ubcctl sched status|load|unload");
  verb->add_option("ACTION", *action, "status (default), load or unload");
  verb->callback([&chosen, action] {
    chosen = [action](Session& session) {
      if (action->empty() || *action == "status") return sched_status(session.host());
      if (*action == "load") return sched_load(session.host());
      if (*action == "unload") return sched_unload(session.host());
      throw std::invalid_argument("sched " + *action + ": expected status, load or unload");
    };
  });
}

void add_unload(CLI::App& app, Action& chosen) {
  auto force = std::make_shared<bool>(false);
  auto* verb = app.add_subcommand("unload", "Detach and unpin the engine (CT cgroups are kept)");
  verb->add_flag("--force", *force,
                 "Unload even with CTs running: they lose their beancounters (held, maxheld, failcnt), "
                 "device rules and the bpf() denial");
  verb->callback([&chosen, force] {
    chosen = [force](Session& session) {
      refuse_unload_with_running_cts(session.containers(), *force);
      session.host().unload_engine();
      std::printf("engine unloaded\n");
      return 0;
    };
  });
}

void add_doctor(CLI::App& app, Action& chosen) {
  struct Options {
    bool consistency_only = false, repair = false;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("doctor",
                                  "Say what this host's kernel supports, what ubc does about gaps, and whether "
                                  "configs, cgroups and the engine's slots agree");
  verb->add_flag("--consistency", options->consistency_only,
                 "Only check that configs, cgroups and slots agree: exit 0 if so, 1 if something is broken, "
                 "3 if a command stopped half-way left something --repair fixes");
  verb->add_flag("--repair", options->repair,
                 "Repair what a command stopped half-way left (slots, registrations, temporary files), then "
                 "check as --consistency");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      if (options->repair) return run_repair(session.host());
      if (options->consistency_only) return print_consistency(session.host());
      return run_doctor();
    };
  });
}

void add_reload(CLI::App& app, Action& chosen) {
  auto* verb = app.add_subcommand(
      "reload", "Apply every CT's config file to the live engine (SIGHUP to ubcd if it runs); all or nothing");
  verb->callback([&chosen] { chosen = [](Session& session) { return run_reload(session.host()); }; });
}

}  // namespace

void add_engine_verbs(CLI::App& app, Action& chosen, const VerbFilter& filter) {
  if (filter.wants("load")) add_load(app, chosen);
  if (filter.wants("sched")) add_sched(app, chosen);
  if (filter.wants("unload")) add_unload(app, chosen);
  if (filter.wants("doctor")) add_doctor(app, chosen);
  if (filter.wants("reload")) add_reload(app, chosen);
}

}  // namespace ubc::cli
