// ubcctl's report verbs: show (/proc/user_beancounters), events (refusals) and list (vzlist).
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loader/refusal_events.h"
#include "tools/ct_commands.h"
#include "tools/verbs.h"
#include "ubc/ct_config.h"
#include "ubc/ct_names.h"
#include "ubc/failcnt_baseline.h"
#include "ubc/report.h"
#include "ubc/resource_table.h"

namespace ubc::cli {

namespace {

int run_show(Host& host, const std::string& ctid, bool json, bool relative) {
  if (!host.engine_loaded()) throw std::runtime_error("the engine is not loaded; run `ubcctl load` first");
  Host::HostUsage read;
  if (!ctid.empty())
    read.containers.push_back(host.usage(ctid));
  else
    read = host.usage_of_all();
  if (relative) make_failcnt_relative(read.containers, state_dir() / "failcnt.json");
  if (json)
    std::cout << report_json(read.containers).dump(2) << "\n";
  else
    std::cout << format_user_beancounters(read.containers);
  // The others are shown; a CT left out is an error, not a silence.
  for (const auto& id : read.unregistered)
    std::cerr << "ubcctl: CT " << id << " is not registered with the engine; run `ubcctl doctor`\n";
  return read.unregistered.empty() ? 0 : 1;
}

// Prints refused charges: what was drained from the ring buffer, or, with `follow`, until
// interrupted. One line per refusal, or one JSON object per line.
int run_events(Host& host, bool follow, bool json) {
  if (!host.engine_loaded()) throw std::runtime_error("the engine is not loaded; run `ubcctl load` first");
  CtNames names([&host](std::uint64_t cgroup_id) { return host.ctid_of_cgroup(cgroup_id); });
  // Events carry CLOCK_MONOTONIC; print wall-clock time.
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  const long double offset = (real.tv_sec - mono.tv_sec) + (real.tv_nsec - mono.tv_nsec) / 1e9L;
  if (!json)
    std::printf("%-23s %-10s %-12s %8s %-16s %20s %20s %s\n", "TIME", "CT", "RESOURCE", "PID", "COMM", "HELD",
                "THRESHOLD", "REASON");
  RefusalEventReader reader(host.paths().pin_dir, [&](const ubc_refusal_event& event) {
    const auto when = static_cast<time_t>(event.timestamp_ns / 1e9L + offset);
    const auto millis = static_cast<int>((event.timestamp_ns / 1000000) % 1000);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::localtime(&when));
    const std::string comm = refused_comm(event);
    const std::string resource = refused_resource_name(event);
    const std::string ct = names.name(event.cgroup_id);
    if (json) {
      std::cout << nlohmann::json{{"time", std::string(stamp) + "." + std::to_string(millis)},
                                  {"ctid", ct},
                                  {"resource", resource},
                                  {"pid", event.tgid},
                                  {"tid", event.pid},
                                  {"comm", comm},
                                  {"held", event.held},
                                  {"threshold", event.threshold},
                                  {"amount", event.amount},
                                  {"reason", refusal_reason_name(event.reason)}}
                       .dump()
                << std::endl;
    } else {
      std::printf("%s.%03d %-10s %-12s %8u %-16s %20llu %20llu %s\n", stamp, millis, ct.c_str(), resource.c_str(),
                  event.tgid, comm.c_str(), static_cast<unsigned long long>(event.held),
                  static_cast<unsigned long long>(event.threshold),
                  std::string(refusal_reason_name(event.reason)).c_str());
      std::fflush(stdout);
    }
  });
  while (reader.poll(std::chrono::milliseconds(follow ? 500 : 0)) > 0 || follow) {
  }
  return 0;
}

void add_show(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid;
    bool json = false, relative = false;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("show", "Print beancounters in /proc/user_beancounters format");
  verb->add_option("CT", options->ctid, "Only this CT");
  verb->add_flag("--json", options->json, "JSON instead of text");
  verb->add_flag("-r,--relative", options->relative,
                 "failcnt as its growth since the previous --relative reading (vzubc -r); "
                 "failcnt itself is never reset, as in OpenVZ");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      return run_show(session.host(), options->ctid, options->json, options->relative);
    };
  });
}

void add_events(CLI::App& app, Action& chosen) {
  struct Options {
    bool follow = false, json = false;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("events", "Print refused charges (CT, resource, pid, comm), oldest first");
  verb->add_flag("-f,--follow", options->follow, "Keep printing new refusals until interrupted");
  verb->add_flag("--json", options->json, "One JSON object per line");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) { return run_events(session.host(), options->follow, options->json); };
  });
}

void add_list(CLI::App& app, Action& chosen) {
  struct Options {
    std::vector<std::string> fields;
    bool all = false, json = false;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("list", "vzlist: CTID NPROC STATUS IP_ADDR HOSTNAME of running CTs");
  verb->add_flag("-a,--all", options->all, "Stopped CTs too");
  verb->add_option("-o,--output", options->fields,
                   "Columns: "
                   "ctid,nproc,status,ip,hostname,capability,ioprio,iolimit,iopslimit,diskspace[.s|.h],diskinodes[.s|."
                   "h],quotaugidlimit,<beancounter>[.m|.b|.l|.f]")
      ->delimiter(',');
  verb->add_flag("-j,--json", options->json, "JSON instead of columns");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      return list(session.host(), session.containers(), options->fields, options->all, options->json);
    };
  });
}

}  // namespace

void add_report_verbs(CLI::App& app, Action& chosen, const VerbFilter& filter) {
  if (filter.wants("show")) add_show(app, chosen);
  if (filter.wants("events")) add_events(app, chosen);
  if (filter.wants("list")) add_list(app, chosen);
}

}  // namespace ubc::cli
