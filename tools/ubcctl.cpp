// ubcctl: OpenVZ-style control of ubc's containers and beancounters. Parses arguments and
// prints; the work lives in ubc/ and loader/.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "loader/capabilities.h"
#include "loader/engine.h"
#include "loader/refusal_events.h"
#include "tools/ct_commands.h"
#include "tools/sched_commands.h"
#include "ubc/consistency.h"
#include "ubc/containers.h"
#include "ubc/cpu_settings.h"
#include "ubc/ct_config.h"
#include "ubc/failcnt_baseline.h"
#include "ubc/host.h"
#include "ubc/limits.h"
#include "ubc/policy_reload.h"
#include "ubc/report.h"
#include "ubc/resource_table.h"

namespace {

using ubc::Host;

void print_engine_health() {
  ubc::HostPaths paths;
  try {
    paths = ubc::HostPaths::discover();
  } catch (const std::exception&) {
    return;
  }
  if (!ubc::Engine::is_loaded(paths.pin_dir)) {
    std::printf("engine: not loaded (ubcctl load)\n");
    return;
  }
  const auto stats = ubc::Engine::open(paths.pin_dir).stats();
  std::printf("engine: loaded, pinned in %s\n", paths.pin_dir.c_str());
  for (int stat = 0; stat < UBC_STAT_COUNT; ++stat)
    std::printf("  %-66s %llu\n", std::string(ubc::engine_stat_description(static_cast<ubc_engine_stat>(stat))).c_str(),
                static_cast<unsigned long long>(stats[stat]));
  std::printf("  kernel recursion misses per program (runs the kernel skipped):\n");
  for (const auto& program : ubc::Engine::program_health(paths.pin_dir))
    std::printf("    %-28s %llu\n", program.name.c_str(), static_cast<unsigned long long>(program.recursion_misses));
}

// Exit statuses of `doctor --consistency` and `--repair`.
constexpr int kConsistent = 0;
constexpr int kBroken = 1;
constexpr int kRepairable = 3;

// Prints what check_consistency finds; returns kConsistent, kBroken or kRepairable.
int print_consistency(Host& host) {
  const auto findings = ubc::check_consistency(host);
  std::printf("consistency of configs, cgroups and the engine's slots: %s\n",
              findings.empty() ? "ok" : "findings below");
  int status = kConsistent;
  for (const auto& finding : findings) {
    const bool broken = finding.kind == ubc::ConsistencyFinding::Kind::broken;
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
  for (const auto& repair : ubc::repair_consistency(host)) std::printf("repaired: %s\n", repair.c_str());
  return print_consistency(host);
}

int run_doctor() {
  bool ready = true;
  std::printf("%-22s %-8s %s\n", "CHECK", "STATUS", "DETAIL");
  for (const auto& cap : ubc::probe_capabilities()) {
    std::printf("%-22s %-8s %s\n", cap.name.c_str(), cap.available ? "ok" : (cap.required ? "MISSING" : "absent"),
                cap.detail.c_str());
    if (!cap.available) std::printf("%-22s %-8s -> %s\n", "", "", cap.consequence.c_str());
    ready = ready && (cap.available || !cap.required);
  }
  std::printf("\nCPU scheduler: %s\n", ubc::active_cpu_scheduler().c_str());
  try {
    Host host(ubc::HostPaths::discover());
    ubc::cli::print_scheduler_health(host);
  } catch (const std::exception& error) {
    std::printf("  (scheduler state unreadable: %s)\n", error.what());
  }
  std::printf("beancounters: %s\n",
              ready ? "can be enforced on this host" : "cannot be enforced on this host (see MISSING above)");
  std::printf("\n%-14s %-13s %s\n", "RESOURCE", "STATUS", "KNOWN GAP (docs/RESOURCES.md)");
  for (const auto& row : ubc::resource_table()) {
    const std::string_view gap = ubc::known_gap(row.id);
    std::printf("%-14s %-13s %s\n", std::string(row.name).c_str(), std::string(ubc::support_name(row.support)).c_str(),
                gap.empty() ? "-" : std::string(gap).c_str());
  }
  print_engine_health();
  std::printf("\n");
  Host host(ubc::HostPaths::discover());
  const int consistency = print_consistency(host);
  return ready && consistency != kBroken ? 0 : 1;
}

int run_show(Host& host, const std::string& ctid, bool json, bool relative) {
  if (!host.engine_loaded()) throw std::runtime_error("the engine is not loaded; run `ubcctl load` first");
  std::vector<ubc::ContainerUsage> usage;
  if (!ctid.empty()) {
    usage.push_back(host.usage(ctid));
  } else {
    for (const auto& id : host.list()) usage.push_back(host.usage(id));
  }
  if (relative) ubc::make_failcnt_relative(usage, ubc::state_dir() / "failcnt.json");
  if (json)
    std::cout << ubc::report_json(usage).dump(2) << "\n";
  else
    std::cout << ubc::format_user_beancounters(usage);
  return 0;
}

// Prints refused charges: what was drained from the ring buffer, or, with `follow`, until
// interrupted. One line per refusal, or one JSON object per line.
int run_events(Host& host, bool follow, bool json) {
  if (!host.engine_loaded()) throw std::runtime_error("the engine is not loaded; run `ubcctl load` first");
  std::map<std::uint64_t, std::string> names;
  auto ct_name = [&](std::uint64_t cgroup_id) {
    auto found = names.find(cgroup_id);
    if (found != names.end()) return found->second;
    const auto ctid = host.ctid_of_cgroup(cgroup_id);
    return names[cgroup_id] = ctid ? *ctid : "cgroup:" + std::to_string(cgroup_id);
  };
  // Events carry CLOCK_MONOTONIC; print wall-clock time.
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  const long double offset = (real.tv_sec - mono.tv_sec) + (real.tv_nsec - mono.tv_nsec) / 1e9L;
  if (!json)
    std::printf("%-23s %-10s %-12s %8s %-16s %20s %20s %s\n", "TIME", "CT", "RESOURCE", "PID", "COMM", "HELD",
                "THRESHOLD", "REASON");
  ubc::RefusalEventReader reader(host.paths().pin_dir, [&](const ubc_refusal_event& event) {
    const auto when = static_cast<time_t>(event.timestamp_ns / 1e9L + offset);
    const auto millis = static_cast<int>((event.timestamp_ns / 1000000) % 1000);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::localtime(&when));
    const std::string comm(event.comm, strnlen(event.comm, sizeof event.comm));
    const std::string resource = event.resource < UBC_RESOURCE_COUNT
                                     ? std::string(ubc::resource_info(static_cast<ubc_resource>(event.resource)).name)
                                     : std::to_string(event.resource);
    if (json) {
      std::cout << nlohmann::json{{"time", std::string(stamp) + "." + std::to_string(millis)},
                                  {"ctid", ct_name(event.cgroup_id)},
                                  {"resource", resource},
                                  {"pid", event.tgid},
                                  {"tid", event.pid},
                                  {"comm", comm},
                                  {"held", event.held},
                                  {"threshold", event.threshold},
                                  {"amount", event.amount},
                                  {"reason", ubc::refusal_reason_name(event.reason)}}
                       .dump()
                << std::endl;
    } else {
      std::printf("%s.%03d %-10s %-12s %8u %-16s %20llu %20llu %s\n", stamp, millis, ct_name(event.cgroup_id).c_str(),
                  resource.c_str(), event.tgid, comm.c_str(), static_cast<unsigned long long>(event.held),
                  static_cast<unsigned long long>(event.threshold),
                  std::string(ubc::refusal_reason_name(event.reason)).c_str());
      std::fflush(stdout);
    }
  });
  while (reader.poll(std::chrono::milliseconds(follow ? 500 : 0)) > 0 || follow) {
  }
  return 0;
}

std::map<ubc_resource, ubc::Limits> parse_limit_values(const std::map<std::string, std::string>& values) {
  const auto page_size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::map<ubc_resource, ubc::Limits> parsed;
  for (const auto& [name, text] : values) {
    const ubc::ResourceInfo* info = ubc::find_resource(name);
    parsed[info->id] = ubc::parse_limits(*info, text, page_size);
  }
  return parsed;
}

// Asks a running ubcd to reload (it logs the outcome), or reloads here.
int run_reload(Host& host) {
  std::ifstream pidfile(ubc::run_dir() / "ubcd.pid");
  pid_t daemon = 0;
  if (pidfile >> daemon && daemon > 0 && ::kill(daemon, SIGHUP) == 0) {
    std::printf("asked ubcd (pid %d) to reload; it logs the outcome\n", daemon);
    return 0;
  }
  const ubc::ReloadResult result = ubc::reload_policy(host);
  for (const auto& repair : result.repairs) std::printf("repaired: %s\n", repair.c_str());
  if (!result.applied) {
    std::fprintf(stderr, "ubcctl: reload refused, the running policy is unchanged: %s\n", result.error.c_str());
    return 1;
  }
  std::printf("applied the config of %d CT(s)\n", result.cts);
  if (!result.error.empty()) std::fprintf(stderr, "ubcctl: warning: %s\n", result.error.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ubcctl: OpenVZ-style beancounters for containers, on BPF LSM.\n"
      "A CT (container) is a cgroup v2 directory that ubc owns; the engine must be loaded first.",
      "ubcctl"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  std::string ctid;
  bool json = false;
  bool force = false;
  std::vector<std::string> command;
  std::map<std::string, std::string> set_values;

  auto* load = app.add_subcommand("load", "Load and attach the engine; it stays attached after ubcctl exits");
  std::string cpu_scheduler = "auto";
  load->add_option("--cpu-scheduler", cpu_scheduler,
                   "auto (sched_ext where the kernel has it, else cgroup), sched_ext, or cgroup (default auto)");
  std::string sched_action;
  auto* sched = app.add_subcommand("sched", "The CPU scheduler: ubcctl sched status|load|unload");
  sched->add_option("ACTION", sched_action, "status (default), load or unload");
  auto* unload = app.add_subcommand("unload", "Detach and unpin the engine (CT cgroups are kept)");
  unload->add_flag("--force", force,
                   "Unload even with CTs running: they lose their beancounters (held, maxheld, failcnt), "
                   "device rules and the bpf() denial");
  auto* doctor = app.add_subcommand("doctor",
                                    "Say what this host's kernel supports, what ubc does about gaps, and whether "
                                    "configs, cgroups and the engine's slots agree");
  bool consistency_only = false, repair = false;
  doctor->add_flag("--consistency", consistency_only,
                   "Only check that configs, cgroups and slots agree: exit 0 if so, 1 if something is broken, "
                   "3 if a command stopped half-way left something --repair fixes");
  doctor->add_flag("--repair", repair,
                   "Repair what a command stopped half-way left (slots, registrations, temporary files), then "
                   "check as --consistency");

  ubc::CreateOptions create_options;
  std::string root_dir, private_dir, ostemplate, hostname, init;
  auto* create = app.add_subcommand("create", "Create a CT: its cgroup, beancounters, config and files");
  create->add_option("CT", ctid, "CT id (e.g. 101)")->required();
  create->add_option("--root", root_dir, "Use this directory as the CT's root filesystem, as it is");
  create->add_option("--private", private_dir, "Where to unpack --ostemplate (default /var/lib/ubc/private/CT)");
  create->add_option("--ostemplate", ostemplate, "A root filesystem tarball to unpack as the CT's files");
  create->add_option("--hostname", hostname, "The CT's hostname (default: its id)");
  create->add_option("--ipadd", create_options.ip_addresses, "An IPv4 or IPv6 address for the CT (repeatable)");
  create->add_option("--init", init, "The CT's init command (default /sbin/init)");
  std::string adopt_cgroup;
  create->add_option("--cgroup", adopt_cgroup,
                     "Put beancounters on this existing cgroup (Docker, Podman, systemd), without moving it");
  std::string create_userns;
  create
      ->add_option("--userns", create_userns,
                   "yes (default): run the CT in a user namespace with a host uid range of its own; "
                   "no: its root is the host's root (warned)")
      ->expected(0, 1);

  auto* destroy = app.add_subcommand("destroy", "Destroy a CT: its cgroup, counters, config, and files ubc made");
  destroy->add_option("CT", ctid, "CT id")->required();
  destroy->add_flag("--force", force, "Stop it first if it runs");

  bool every_ct = false;
  auto* exec = app.add_subcommand("exec", "Run a command inside a CT: ubcctl exec CT|--all -- CMD [ARG]...");
  exec->add_flag("--all", every_ct, "In every running CT");
  exec->add_option("CT", ctid, "CT id (not with --all)");
  exec->add_option("command", command, "Command and arguments, after --");

  auto* start = app.add_subcommand("start", "Start a CT: its init as PID 1 in namespaces of its own");
  start->add_option("CT", ctid, "CT id");
  start->add_flag("--all", every_ct, "Every CT whose config says ONBOOT=\"yes\"");
  start->add_option("--init", init, "Run this init (saved in the config)");
  start->add_flag("--force", force,
                  "Start even without the engine loaded (no beancounters, device rules, bpf() denial)");
  int stop_timeout = 10;
  auto* stop = app.add_subcommand("stop", "Stop a CT: SIGTERM to its init, SIGKILL to all after --timeout");
  stop->add_option("CT", ctid, "CT id")->required();
  stop->add_option("--timeout", stop_timeout, "Seconds to wait for init before killing (default 10)");
  auto* restart = app.add_subcommand("restart", "Stop and start a CT");
  restart->add_option("CT", ctid, "CT id")->required();
  restart->add_option("--timeout", stop_timeout, "Seconds to wait for init before killing (default 10)");
  restart->add_flag("--force", force, "Start even without the engine loaded");
  auto* status = app.add_subcommand("status", "Print vzctl's status line: CTID 101 exist mounted running");
  status->add_option("CT", ctid, "CT id")->required();
  auto* enter = app.add_subcommand("enter", "An interactive shell inside a running CT");
  enter->add_option("CT", ctid, "CT id")->required();
  std::string new_ctid;
  auto* clone = app.add_subcommand("clone", "Copy a CT's files and config under a new id (without its addresses)");
  clone->add_option("CT", ctid, "CT id")->required();
  clone->add_option("NEWCT", new_ctid, "The copy's id")->required();
  std::vector<std::string> list_fields;
  bool list_all = false;
  auto* list = app.add_subcommand("list", "vzlist: CTID NPROC STATUS IP_ADDR HOSTNAME of running CTs");
  list->add_flag("-a,--all", list_all, "Stopped CTs too");
  list->add_option("-o,--output", list_fields, "Columns: ctid,nproc,status,ip,hostname,<beancounter>[.m|.b|.l|.f]")
      ->delimiter(',');
  list->add_flag("-j,--json", json, "JSON instead of columns");

  bool save = false;
  auto* set = app.add_subcommand("set", "Set a CT's barrier and limit: ubcctl set CT --numfile B[:L] [--save]");
  set->add_option("CT", ctid, "CT id")->required();
  set->add_flag("--save", save, "Also write them to the CT's config file (/etc/ubc/CT.conf), kept across reloads");
  std::string cpuunits, cpulimit, cpus;
  set->add_option("--cpuunits", cpuunits, "CPU weight among CTs, 8..500000 (OpenVZ default 1000); at once");
  set->add_option("--cpulimit", cpulimit, "CPU cap in percent of one CPU (200 = two), or N% of the host; 0 = none");
  set->add_option("--cpus", cpus, "How many CPUs the CT may use at once; 0 = all");
  ubc::cli::CtSettingChanges changes;
  set->add_option("--hostname", changes.hostname, "Hostname (applies at the next start; always saved)");
  set->add_option("--ipadd", changes.ipadd, "Add an IPv4 or IPv6 address (next start; saved)");
  set->add_option("--ipdel", changes.ipdel, "Remove an address, or 'all' (next start; saved)");
  set->add_option("--onboot", changes.onboot, "yes|no: start with `ubcctl start --all` (saved)");
  set->add_option("--init", changes.init, "The CT's init command (next start; saved)");
  set->add_option("--userns", changes.userns, "yes|no: run in a user namespace (next start; saved)");
  set->add_option("--capability", changes.capabilities,
                  "NAME:on|off, e.g. sys_time:on: grant or remove a capability (next start; saved)");
  set->add_option("--devices", changes.devices, "Grant host device nodes: NAME[:r|rw], e.g. ttyS0:rw (saved)");
  set->add_option("--netdev_add", changes.netdev_add, "Move a host network interface into the CT at start (saved)");
  set->add_option("--netdev_del", changes.netdev_del, "Stop moving that interface in (next start; saved)");
  for (const auto& info : ubc::resource_table()) {
    if (!ubc::is_available(info.support)) continue;
    const std::string name(info.name);
    std::string help = "BARRIER[:LIMIT] or 'unlimited'";
    if (info.unit == ubc::Unit::pages) help += "; K/M/G/T = bytes (rounded up to whole pages), P = pages";
    if (info.unit == ubc::Unit::bytes) help += "; K/M/G/T = bytes, P = pages";
    set->add_option_function<std::string>(
        "--" + name, [&set_values, name](const std::string& v) { set_values[name] = v; }, help);
  }

  auto* reload = app.add_subcommand(
      "reload", "Apply every CT's config file to the live engine (SIGHUP to ubcd if it runs); all or nothing");

  bool follow = false;
  auto* events = app.add_subcommand("events", "Print refused charges (CT, resource, pid, comm), oldest first");
  events->add_flag("-f,--follow", follow, "Keep printing new refusals until interrupted");
  events->add_flag("--json", json, "One JSON object per line");

  auto* show = app.add_subcommand("show", "Print beancounters in /proc/user_beancounters format");
  show->add_option("CT", ctid, "Only this CT");
  show->add_flag("--json", json, "JSON instead of text");
  bool relative = false;
  show->add_flag("-r,--relative", relative,
                 "failcnt as its growth since the previous --relative reading (vzubc -r); "
                 "failcnt itself is never reset, as in OpenVZ");

  CLI11_PARSE(app, argc, argv);

  try {
    if (*doctor && !consistency_only && !repair) return run_doctor();
    Host host(ubc::HostPaths::discover());
    if (*doctor) return repair ? run_repair(host) : print_consistency(host);
    ubc::Containers containers(host);
    if (*load) {
      return ubc::cli::load(host, ubc::cli::parse_cpu_scheduler_choice(cpu_scheduler));
    } else if (*sched) {
      if (sched_action.empty() || sched_action == "status") return ubc::cli::sched_status(host);
      if (sched_action == "load") return ubc::cli::sched_load(host);
      if (sched_action == "unload") return ubc::cli::sched_unload(host);
      throw std::invalid_argument("sched " + sched_action + ": expected status, load or unload");
    } else if (*unload) {
      ubc::cli::refuse_unload_with_running_cts(containers, force);
      host.unload_engine();
      std::printf("engine unloaded\n");
    } else if (*create) {
      if (!root_dir.empty()) create_options.root = root_dir;
      if (!private_dir.empty()) create_options.private_area = private_dir;
      if (!ostemplate.empty()) create_options.ostemplate = ostemplate;
      if (!hostname.empty()) create_options.hostname = hostname;
      if (!init.empty()) create_options.init = init;
      if (!adopt_cgroup.empty()) create_options.cgroup = adopt_cgroup;
      if (create->count("--userns")) {
        if (create_userns != "" && create_userns != "yes" && create_userns != "no")
          throw std::invalid_argument("create --userns takes yes or no, not '" + create_userns + "'");
        create_options.user_namespace = create_userns != "no";
        if (create_userns == "no")
          std::fprintf(stderr,
                       "ubcctl: warning: CT %s will run without a user namespace: its root is the host's root, "
                       "kept in only by capabilities, seccomp and masked paths\n",
                       ctid.c_str());
      }
      if (create_options.root && create_options.ostemplate)
        throw std::invalid_argument("create: --root and --ostemplate exclude each other");
      containers.create(ctid, create_options);
    } else if (*destroy) {
      containers.destroy(ctid, force);
    } else if (*exec) {
      if (every_ct) {
        // With --all there is no CT id: the first word the parser gave it is the command's.
        if (!ctid.empty()) command.insert(command.begin(), ctid);
        if (command.empty()) throw std::invalid_argument("exec --all: give a command after --");
        return ubc::cli::exec_all(host, containers, command);
      }
      if (ctid.empty() || command.empty())
        throw std::invalid_argument("exec: give a CT id (or --all) and a command after --");
      return containers.exec(ctid, command);
    } else if (*start) {
      if (every_ct) return ubc::cli::start_all(host, containers);
      if (ctid.empty()) throw std::invalid_argument("start: give a CT id or --all");
      if (!init.empty()) {
        ubc::cli::CtSettingChanges init_change;
        init_change.init = init;
        ubc::cli::apply_setting_changes(host, ctid, init_change);
      }
      ubc::cli::start(containers, ctid, force);
    } else if (*stop) {
      containers.stop(ctid, std::chrono::seconds(stop_timeout));
    } else if (*restart) {
      if (containers.status(ctid).running) containers.stop(ctid, std::chrono::seconds(stop_timeout));
      ubc::cli::start(containers, ctid, force);
    } else if (*status) {
      return ubc::cli::status(containers, ctid);
    } else if (*enter) {
      return containers.enter(ctid);
    } else if (*clone) {
      containers.clone(ctid, new_ctid);
    } else if (*list) {
      return ubc::cli::list(host, containers, list_fields, list_all, json);
    } else if (*set) {
      // Every option is parsed and checked before anything changes: one bad value changes nothing.
      if (ctid != "0" && !host.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
      const auto limits = parse_limit_values(set_values);
      ubc::sched::CpuSettings cpu;
      const auto host_cpus = static_cast<unsigned>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
      if (!cpuunits.empty()) cpu.cpuunits = ubc::sched::parse_cpuunits(cpuunits);
      if (!cpulimit.empty()) cpu.cpulimit = ubc::sched::parse_cpulimit(cpulimit, host_cpus);
      if (!cpus.empty()) cpu.cpus = ubc::sched::parse_cpus(cpus, host_cpus);
      const bool cpu_changed = cpu.cpuunits || cpu.cpulimit || cpu.cpus;
      if (ctid == "0") {  // OpenVZ's VE0: the host's own tasks, a group of the CPU scheduler
        if (!cpu.cpuunits || cpu.cpulimit || cpu.cpus || !set_values.empty())
          throw std::invalid_argument("set 0 (the host) takes --cpuunits only");
        host.set_host_cpuunits(*cpu.cpuunits, save);
        return 0;
      }
      auto planned = ubc::cli::plan_setting_changes(host, ctid, changes);
      if (!planned && !cpu_changed && limits.empty())
        throw std::invalid_argument("set: nothing to set; give at least one --<resource> B[:L] or a setting");
      if (!limits.empty() && !host.engine_loaded() && !save)
        throw std::runtime_error("the engine is not loaded; run `ubcctl load`, or use --save to only save");
      // One write of the config, after the running CT took the values: killed in between,
      // this leaves an unsaved set, never a file that holds half of it or values the
      // engine lacks.
      std::optional<ubc::ConfigLock> lock;
      ubc::CtConfig config;
      if (planned) {
        config = planned->config;
      } else if (save) {
        lock.emplace(host.config_path(ctid).parent_path());
        config = ubc::CtConfig::load(host.config_path(ctid));
      }
      if (cpu_changed) host.set_cpu(ctid, cpu, false);
      if (host.engine_loaded())
        for (const auto& [resource, value] : limits) host.set_limits(ctid, resource, value);
      if (save) {
        ubc::store_cpu_settings(config, cpu);
        for (const auto& [resource, value] : limits) config.set_beancounter(ubc::resource_info(resource), value);
      }
      if (planned || save) config.save(host.config_path(ctid));
      return 0;
    } else if (*reload) {
      return run_reload(host);
    } else if (*events) {
      return run_events(host, follow, json);
    } else if (*show) {
      return run_show(host, ctid, json, relative);
    }
    return 0;
  } catch (const ubc::ConfigError& error) {
    std::fprintf(stderr, "ubcctl: %s\n", error.what());
    return 1;
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "ubcctl: %s\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubcctl: %s\n", error.what());
    return 1;
  }
}
