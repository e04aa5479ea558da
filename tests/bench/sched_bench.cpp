// ubc-sched-bench: ubc's sched_ext scheduler against the kernel's fair scheduler driven by
// the same settings through cgroup v2 (the fallback), measured side by side in one run.
// Every figure is CPU time the kernel accounted (CLOCK_PROCESS_CPUTIME_ID of each hog) or
// what a standard tool (hackbench, cyclictest from rt-tests) printed; the scheduler's own
// counters only explain the cost per decision. Run it as root where sched_ext is
// available, e.g. in the bundled VM: tools/ubc-vm -- ubc-sched-bench (docs/SCHEDULER.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "command_race.h"
#include "hogs.h"
#include "loader/scheduler.h"
#include "prog_stats.h"
#include "ubc/cpu_control.h"
#include "ubc/host.h"

namespace {

using ubc::Host;
using ubc::bench::group_seconds;
using ubc::bench::HogRace;
using ubc::bench::HogResult;
using ubc::bench::HogSpec;

// The kernel's nice-to-weight table (kernel/sched/core.c): nice 0 and nice 5.
constexpr double kNice0Weight = 1024, kNice5Weight = 335;

enum class Mode { kUbc, kCfs };
const Mode kModes[] = {Mode::kUbc, Mode::kCfs};
const char* mode_name(Mode mode) {
  return mode == Mode::kUbc ? "sched_ext:ubc" : "cfs+cgroup";
}

int online_cpus() {
  return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
}

// A figure taken under ubc's scheduler means nothing if the kernel ejected it meanwhile
// (its watchdog: a runnable task left waiting for 10 s) and the run finished on the fair class.
void require_still_running(Host& host) {
  if (ubc::Scheduler::running_ops().value_or("") == "ubc") return;
  std::string why = "no exit recorded";
  const auto scheduler = ubc::Scheduler::open(host.paths().pin_dir);
  if (const auto exit = scheduler.exit_info())
    why = "kind " + std::to_string(exit->kind) + ", " + exit->reason + ": " + exit->message;
  const auto stats = scheduler.stats();
  why += "; queue waits until then: " + std::to_string(stats[UBC_SCHED_STAT_WAITS]) + ", " +
         std::to_string(stats[UBC_SCHED_STAT_WAITS_OVER_100MS]) + " of 100 ms or more, " +
         std::to_string(stats[UBC_SCHED_STAT_WAITS_OVER_1S]) + " of 1 s or more, the longest " +
         std::to_string(static_cast<double>(stats[UBC_SCHED_STAT_LONGEST_WAIT_NS]) / 1e9) + " s";
  throw std::runtime_error("the kernel ejected ubc's scheduler during the run (" + why + ")");
}

void use(Host& host, Mode mode) {
  if (mode == Mode::kUbc && !ubc::CpuControl(host).scheduler_loaded()) ubc::CpuControl(host).load_scheduler();
  if (mode == Mode::kCfs && ubc::CpuControl(host).scheduler_loaded()) {
    require_still_running(host);  // what ran under ubc's scheduler did run under it
    ubc::CpuControl(host).unload_scheduler();
  }
}

// The benchmark's CTs, destroyed (their hogs killed) at scope exit.
class BenchCts {
 public:
  explicit BenchCts(Host& host) : host_(host) {}
  ~BenchCts() {
    for (const auto& id : ids_) try {
        host_.destroy(id, true);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "destroying %s: %s\n", id.c_str(), error.what());
      }
  }
  BenchCts(const BenchCts&) = delete;
  BenchCts& operator=(const BenchCts&) = delete;
  const std::string& add(std::uint32_t cpuunits, std::uint32_t cpulimit = 0) {
    const std::string id = "bench-" + std::to_string(ids_.size() + 1);
    if (host_.exists(id)) host_.destroy(id, true);  // left by an interrupted run
    host_.create(id);
    ids_.push_back(id);
    ubc::sched::CpuSettings settings;
    settings.cpuunits = cpuunits;
    settings.cpulimit = cpulimit;
    ubc::CpuControl(host_).set_ct(id, settings);
    return ids_.back();
  }
  std::filesystem::path cgroup(size_t index) const { return host_.cgroup_of(ids_.at(index)); }

 private:
  Host& host_;
  std::vector<std::string> ids_;
};

std::string run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((command + " 2>&1").c_str(), "r"), &::pclose);
  if (!pipe) throw std::runtime_error("popen(" + command + ") failed");
  std::string output;
  char buffer[4096];
  while (size_t got = std::fread(buffer, 1, sizeof(buffer), pipe.get())) output.append(buffer, got);
  const int status = ::pclose(pipe.release());
  if (status != 0) throw std::runtime_error(command + " failed (status " + std::to_string(status) + "): " + output);
  return output;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

void heading(const std::string& text) {
  std::printf("\n== %s\n", text.c_str());
}

struct Options {
  double seconds = 10;
  int cts = 100;
  int repeats = 3;
  int registered = 1000;
  int busy = 100;
  int loops = 500;
  std::set<std::string> phases{"fairness", "nice", "cpulimit", "overhead", "latency", "scale", "spread"};
};

std::chrono::milliseconds duration_of(double seconds) {
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

// Shares of CPU time of CTs with the given cpuunits, each running `hogs_per_ct` hogs;
// returns the max absolute error against cpuunits / sum(cpuunits), in percentage points.
double fairness_error(Host& host, const std::vector<std::uint32_t>& units, int hogs_per_ct, double seconds,
                      std::vector<double>* shares) {
  BenchCts cts(host);
  HogRace race;
  for (size_t ct = 0; ct < units.size(); ++ct) {
    cts.add(units[ct]);
    for (int hog = 0; hog < hogs_per_ct; ++hog) race.add(HogSpec{cts.cgroup(ct), 0, -1, static_cast<int>(ct)});
  }
  const auto results = race.run(duration_of(seconds));
  const double total_units = std::accumulate(units.begin(), units.end(), 0.0);
  double total = 0;
  for (const auto& result : results) total += result.cpu_seconds;
  double worst = 0;
  for (size_t ct = 0; ct < units.size(); ++ct) {
    const double share = group_seconds(results, static_cast<int>(ct)) / total;
    if (shares) shares->push_back(share);
    worst = std::max(worst, std::fabs(share - units[ct] / total_units) * 100);
  }
  return worst;
}

void fairness(Host& host, const Options& options) {
  const std::vector<std::uint32_t> units{1000, 2000, 4000};
  const int hogs = online_cpus() + 1;
  heading("Fairness: 3 CTs at cpuunits 1000:2000:4000, " + std::to_string(hogs) + " hogs each, " +
          std::to_string(options.seconds) + " s");
  std::vector<double> shares[2];
  double error[2];
  for (int m = 0; m < 2; ++m) {
    use(host, kModes[m]);
    error[m] = fairness_error(host, units, hogs, options.seconds, &shares[m]);
  }
  std::printf("%-10s %8s %15s %15s\n", "cpuunits", "ideal", mode_name(kModes[0]), mode_name(kModes[1]));
  for (size_t ct = 0; ct < units.size(); ++ct)
    std::printf("%-10u %7.1f%% %14.1f%% %14.1f%%\n", units[ct], units[ct] * 100.0 / 7000, shares[0][ct] * 100,
                shares[1][ct] * 100);
  std::printf("%-19s %15.2f %15.2f  (percentage points)\n", "max abs error", error[0], error[1]);
}

void nice_levels(Host& host, const Options& options) {
  const double seconds = std::max(3.0, options.seconds / 2);
  heading("Level two: nice 0 and nice 5 in one CT, both on CPU 0, " + std::to_string(seconds) + " s");
  std::printf("%-24s %15s %15s\n", "", mode_name(kModes[0]), mode_name(kModes[1]));
  double ratio[2];
  for (int m = 0; m < 2; ++m) {
    use(host, kModes[m]);
    BenchCts cts(host);
    cts.add(1000);
    HogRace race;
    race.add(HogSpec{cts.cgroup(0), 0, 0, 0});
    race.add(HogSpec{cts.cgroup(0), 5, 0, 5});
    const auto results = race.run(duration_of(seconds));
    ratio[m] = group_seconds(results, 0) / group_seconds(results, 5);
  }
  std::printf("%-24s %15.2f %15.2f  (kernel weights: %.2f)\n", "nice 0 / nice 5 CPU time", ratio[0], ratio[1],
              kNice0Weight / kNice5Weight);
}

void cpulimit(Host& host, const Options& options) {
  const double seconds = std::max(3.0, options.seconds / 2);
  heading("cpulimit on an idle machine, " + std::to_string(seconds) + " s each, % of one CPU used");
  std::printf("%-24s %15s %15s\n", "", mode_name(kModes[0]), mode_name(kModes[1]));
  std::vector<std::pair<std::uint32_t, int>> cases{{25, 2}};
  if (online_cpus() >= 2)
    cases.push_back({150, online_cpus() + 1});
  else
    std::printf("(cpulimit 150 skipped: it needs 2 or more CPUs, this machine has 1)\n");
  for (const auto& [limit, hogs] : cases) {
    double used[2];
    for (int m = 0; m < 2; ++m) {
      use(host, kModes[m]);
      BenchCts cts(host);
      cts.add(1000, limit);
      HogRace race;
      for (int hog = 0; hog < hogs; ++hog) race.add(HogSpec{cts.cgroup(0), 0, -1, 0});
      used[m] = group_seconds(race.run(duration_of(seconds)), 0) / seconds * 100;
    }
    std::printf("cpulimit %-3u (%d hogs) %14.1f%% %14.1f%%\n", limit, hogs, used[0], used[1]);
  }
}

// hackbench's "Time:" in seconds, the median of `repeats` runs.
double hackbench_seconds(int repeats) {
  std::vector<double> times;
  for (int run = 0; run < repeats; ++run) {
    const std::string output = run_command("hackbench -g 4 -l 200");
    const auto at = output.find("Time:");
    if (at == std::string::npos) throw std::runtime_error("hackbench printed no Time: " + output);
    times.push_back(std::stod(output.substr(at + 5)));
  }
  return median(times);
}

void overhead(Host& host, const Options& options, const std::string& title) {
  heading(title);
  double seconds[2];
  for (int m = 0; m < 2; ++m) {
    use(host, kModes[m]);
    seconds[m] = hackbench_seconds(options.repeats);
  }
  std::printf("%-24s %15s %15s %10s\n", "", mode_name(kModes[0]), mode_name(kModes[1]), "ratio");
  std::printf("%-24s %14.3fs %14.3fs %10.2f\n", "hackbench -g 4 -l 200", seconds[0], seconds[1],
              seconds[0] / seconds[1]);
}

struct Latency {
  double average_us = 0, max_us = 0;
};

// cyclictest at SCHED_OTHER (no -p): how late a task that sleeps 1 ms wakes up, per thread.
Latency cyclictest(double seconds) {
  const std::string output = run_command("cyclictest -q -D " + std::to_string(static_cast<int>(seconds)) + " -t " +
                                         std::to_string(online_cpus()) + " -i 1000");
  Latency latency;
  int threads = 0;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    const auto avg = line.find("Avg:"), max = line.find("Max:");
    if (avg == std::string::npos || max == std::string::npos) continue;
    latency.average_us += std::stod(line.substr(avg + 4));
    latency.max_us = std::max(latency.max_us, std::stod(line.substr(max + 4)));
    ++threads;
  }
  if (!threads) throw std::runtime_error("cyclictest printed no Avg:/Max: " + output);
  latency.average_us /= threads;
  return latency;
}

void latency(Host& host, const Options& options) {
  const double seconds = std::max(3.0, options.seconds / 2);
  heading("Wakeup latency: cyclictest -i 1000 (SCHED_OTHER, host group), " + std::to_string(seconds) + " s");
  std::printf("%-34s %15s %15s %10s\n", "", mode_name(kModes[0]), mode_name(kModes[1]), "ratio");
  for (const bool loaded : {false, true}) {
    Latency measured[2];
    for (int m = 0; m < 2; ++m) {
      use(host, kModes[m]);
      BenchCts cts(host);
      HogRace race;
      std::thread load;
      std::string load_error;
      if (loaded) {
        cts.add(1000);
        for (int hog = 0; hog < online_cpus(); ++hog) race.add(HogSpec{cts.cgroup(0), 0, -1, 0});
        load = std::thread([&] {
          try {
            race.run(duration_of(seconds + 1));  // outlasts cyclictest
          } catch (const std::exception& error) {
            load_error = error.what();
          }
        });
      }
      measured[m] = cyclictest(seconds);
      if (load.joinable()) load.join();
      if (!load_error.empty()) throw std::runtime_error(load_error);
    }
    const std::string what = loaded ? "busy CT on every CPU" : "idle machine";
    std::printf("%-34s %13.0fus %13.0fus %10.2f\n", (what + ", average").c_str(), measured[0].average_us,
                measured[1].average_us, measured[0].average_us / measured[1].average_us);
    std::printf("%-34s %13.0fus %13.0fus %10.2f\n", (what + ", max").c_str(), measured[0].max_us, measured[1].max_us,
                measured[0].max_us / measured[1].max_us);
  }
}

void scale(Host& host, const Options& options) {
  heading("Scale: " + std::to_string(options.cts) + " CTs at cpuunits 1000/2000/4000 in turn, one hog each, " +
          std::to_string(options.seconds) + " s");
  std::vector<std::uint32_t> units;
  for (int ct = 0; ct < options.cts; ++ct) units.push_back(1000u << (ct % 3));
  double error[2];
  std::uint64_t decisions = 0, records = 0;
  for (int m = 0; m < 2; ++m) {
    use(host, kModes[m]);
    std::array<std::uint64_t, UBC_SCHED_STAT_COUNT> before{};
    if (kModes[m] == Mode::kUbc) before = ubc::Scheduler::open(host.paths().pin_dir).stats();
    error[m] = fairness_error(host, units, 1, options.seconds, nullptr);
    if (kModes[m] == Mode::kUbc) {
      const auto after = ubc::Scheduler::open(host.paths().pin_dir).stats();
      decisions = after[UBC_SCHED_STAT_DISPATCH] - before[UBC_SCHED_STAT_DISPATCH];
      records = after[UBC_SCHED_STAT_GROUPS_READ] - before[UBC_SCHED_STAT_GROUPS_READ];
    }
  }
  std::printf("%-24s %15s %15s\n", "", mode_name(kModes[0]), mode_name(kModes[1]));
  std::printf("%-24s %15.2f %15.2f  (percentage points; ideal shares %.2f%% / %.2f%% / %.2f%%)\n", "max abs error",
              error[0], error[1], 100000.0 / std::accumulate(units.begin(), units.end(), 0.0),
              200000.0 / std::accumulate(units.begin(), units.end(), 0.0),
              400000.0 / std::accumulate(units.begin(), units.end(), 0.0));
  std::printf("sched_ext:ubc level-one decisions: %llu, group records read per decision: %.1f\n",
              static_cast<unsigned long long>(decisions), decisions ? static_cast<double>(records) / decisions : 0.0);
  BenchCts idle(host);
  for (int ct = 0; ct < options.cts; ++ct) idle.add(units[ct]);
  overhead(host, options,
           "Overhead with " + std::to_string(options.cts) + " CTs registered (idle): hackbench, median of " +
               std::to_string(options.repeats));
}

// The scheduler's cost as CTs multiply: the same work, `busy` copies of a small hackbench, run
// all in one CT, then one copy in each of `busy` CTs, with `registered` CTs registered
// throughout. Tasks, messages and weights are the same; only the number of groups the
// scheduler picks among differs, so the ratio is what a pick costs with many groups.
void spread(Host& host, const Options& options) {
  const std::string busy = std::to_string(options.busy);
  heading("Spread: " + busy + " copies of hackbench -g 1 -f 2 -l " + std::to_string(options.loops) +
          " in 1 CT vs 1 in each of " + busy + " CTs, " + std::to_string(options.registered) +
          " CTs registered, median of " + std::to_string(options.repeats));
  BenchCts cts(host);
  for (int ct = 0; ct < std::max(options.registered, options.busy); ++ct) cts.add(1000);
  const std::vector<std::string> hackbench{"hackbench", "-g", "1", "-f", "2", "-l", std::to_string(options.loops)};
  double seconds[2][2];  // [mode][spread]
  double reads_per_decision[2] = {0, 0};
  std::array<std::uint64_t, UBC_SCHED_STAT_COUNT> waits[2]{};  // ubc's, [spread]: the last run's
  ubc::bench::ProgramCost dispatch[2], enqueue[2];             // ubc's, [spread]: the last run's
  const ubc::bench::ProgramStats program_stats;
  for (int m = 0; m < 2; ++m) {
    use(host, kModes[m]);
    std::vector<double> runs[2];
    for (int run = 0; run < options.repeats; ++run)
      for (int spread = 0; spread < 2; ++spread) {
        std::array<std::uint64_t, UBC_SCHED_STAT_COUNT> before{};
        if (kModes[m] == Mode::kUbc) before = ubc::Scheduler::open(host.paths().pin_dir).stats();
        const auto programs_before = program_stats.read();
        ubc::bench::CommandRace race;
        for (int copy = 0; copy < options.busy; ++copy) race.add(cts.cgroup(spread ? copy : 0), hackbench);
        runs[spread].push_back(race.run());
        if (kModes[m] == Mode::kUbc) {
          require_still_running(host);
          auto ran = ubc::bench::difference(programs_before, program_stats.read());
          dispatch[spread] = ran["ubc_dispatch"];
          enqueue[spread] = ran["ubc_enqueue"];
          const auto after = ubc::Scheduler::open(host.paths().pin_dir).stats();
          const auto decisions = after[UBC_SCHED_STAT_DISPATCH] - before[UBC_SCHED_STAT_DISPATCH];
          const auto reads = after[UBC_SCHED_STAT_GROUPS_READ] - before[UBC_SCHED_STAT_GROUPS_READ];
          reads_per_decision[spread] = decisions ? static_cast<double>(reads) / decisions : 0;
          for (std::size_t stat = 0; stat < after.size(); ++stat)
            waits[spread][stat] = stat == UBC_SCHED_STAT_LONGEST_WAIT_NS ? after[stat] : after[stat] - before[stat];
        }
      }
    for (int spread = 0; spread < 2; ++spread) seconds[m][spread] = median(runs[spread]);
  }
  std::printf("%-34s %15s %15s\n", "", mode_name(kModes[0]), mode_name(kModes[1]));
  std::printf("%-34s %14.3fs %14.3fs\n", ("all " + busy + " in one CT").c_str(), seconds[0][0], seconds[1][0]);
  std::printf("%-34s %14.3fs %14.3fs\n", ("one in each of " + busy + " CTs").c_str(), seconds[0][1], seconds[1][1]);
  std::printf("%-34s %15.3f %15.3f  (goal for sched_ext:ubc: 1.05 at most)\n", "ratio, spread / one CT",
              seconds[0][1] / seconds[0][0], seconds[1][1] / seconds[1][0]);
  std::printf("sched_ext:ubc groups read per decision: %.2f in one CT, %.2f spread\n", reads_per_decision[0],
              reads_per_decision[1]);
  for (int spread = 0; spread < 2; ++spread) {
    const auto& w = waits[spread];
    std::printf(
        "sched_ext:ubc queue waits %s: %llu, mean %.2f ms, %llu of 100 ms or more, %llu of 1 s or more; "
        "longest since load %.2f s (the kernel ejects at 10 s)\n",
        spread ? "spread" : "in one CT", static_cast<unsigned long long>(w[UBC_SCHED_STAT_WAITS]),
        w[UBC_SCHED_STAT_WAITS] ? static_cast<double>(w[UBC_SCHED_STAT_WAIT_NS]) / w[UBC_SCHED_STAT_WAITS] / 1e6 : 0.0,
        static_cast<unsigned long long>(w[UBC_SCHED_STAT_WAITS_OVER_100MS]),
        static_cast<unsigned long long>(w[UBC_SCHED_STAT_WAITS_OVER_1S]),
        static_cast<double>(w[UBC_SCHED_STAT_LONGEST_WAIT_NS]) / 1e9);
  }
  const auto per_run = [](const ubc::bench::ProgramCost& cost) {
    return cost.runs ? static_cast<double>(cost.nanoseconds) / static_cast<double>(cost.runs) / 1000 : 0.0;
  };
  std::printf(
      "sched_ext:ubc us per run (BPF run-time statistics): ubc_dispatch %.2f in one CT, %.2f spread (%.2fx); "
      "ubc_enqueue %.2f, %.2f (%.2fx)\n",
      per_run(dispatch[0]), per_run(dispatch[1]), per_run(dispatch[1]) / per_run(dispatch[0]), per_run(enqueue[0]),
      per_run(enqueue[1]), per_run(enqueue[1]) / per_run(enqueue[0]));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ubc-sched-bench: ubc's sched_ext scheduler vs the cgroup fallback, side by side"};
  Options options;
  std::vector<std::string> phases;
  app.add_option("--seconds", options.seconds, "Length of each fairness run (others run half, at least 3 s)")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--cts", options.cts, "CTs in the scale phase")->check(CLI::Range(3, 4000));
  app.add_option("--repeats", options.repeats, "hackbench runs per scheduler (the median is shown)")
      ->check(CLI::Range(1, 100));
  app.add_option("--registered", options.registered, "CTs registered in the spread phase")
      ->check(CLI::Range(1, UBC_MAX_CTS - 1));
  app.add_option("--busy", options.busy, "CTs running hackbench in the spread phase")->check(CLI::Range(2, 1000));
  app.add_option("--loops", options.loops, "hackbench -l in the spread phase")->check(CLI::Range(1, 1000000));
  app.add_option("--phases", phases, "Only these: fairness nice cpulimit overhead latency scale spread")
      ->check(CLI::IsMember(options.phases))
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // phases are long: show each as it ends
  if (!phases.empty()) options.phases = {phases.begin(), phases.end()};

  if (auto reason = ubc::Scheduler::unavailable_reason()) {
    std::fprintf(stderr,
                 "ubc-sched-bench: sched_ext is unavailable here (%s); run it in the VM: "
                 "tools/ubc-vm -- ubc-sched-bench\n",
                 reason->c_str());
    return 77;
  }
  try {
    Host host(ubc::HostPaths::discover());
    const bool engine_was_loaded = host.engine_loaded();
    const bool scheduler_was_loaded = ubc::CpuControl(host).scheduler_loaded();
    if (!engine_was_loaded) host.load_engine();
    std::ifstream clocksource("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string clock = "?";
    clocksource >> clock;
    std::printf(
        "ubc-sched-bench: %d CPUs, clocksource %s; %s is ubc's scheduler, %s the kernel's fair class with "
        "the same cpu.weight / cpu.max\n",
        online_cpus(), clock.c_str(), mode_name(Mode::kUbc), mode_name(Mode::kCfs));
    if (options.phases.count("fairness")) fairness(host, options);
    if (options.phases.count("nice")) nice_levels(host, options);
    if (options.phases.count("cpulimit")) cpulimit(host, options);
    if (options.phases.count("overhead"))
      overhead(host, options, "Overhead: hackbench in the host group, median of " + std::to_string(options.repeats));
    if (options.phases.count("latency")) latency(host, options);
    if (options.phases.count("scale")) scale(host, options);
    if (options.phases.count("spread")) spread(host, options);
    use(host, scheduler_was_loaded ? Mode::kUbc : Mode::kCfs);
    if (!engine_was_loaded) host.unload_engine();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-sched-bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
