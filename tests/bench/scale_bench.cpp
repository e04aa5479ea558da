// ubc-scale-bench: what ubc costs with a thousand CTs (issue 16), measured in one run and
// printed next to the goals. Run it as root on a host with no CTs of its own, e.g. in the
// bundled VM: tools/ubc-vm -- ubc-scale-bench   (add --icount to tools/ubc-vm for ratios
// that do not drift with the host's load).
//
// Hooks: each operation in one CT, the engine loaded and unloaded in turn (--rounds times,
// the median kept), as the ratio loaded/unloaded. Reads: --cts CTs created with ubcctl,
// then `ubcctl show`, `ubcctl show <one>` and one ubcd scrape timed as a user runs them.
// Everything it makes is destroyed at the end.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/hook_ops.h"
#include "tests/bench/prog_stats.h"
#include "ubc/host.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr int kUbcdPort = 19478;

const fs::path kBin = fs::read_symlink("/proc/self/exe").parent_path();

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Runs a project binary with its output thrown away; returns its exit status.
int run_quietly(const std::string& tool, const std::vector<std::string>& args) {
  std::vector<std::string> argv{(kBin / tool).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (auto& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int failed = posix_spawn(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (failed) throw std::runtime_error("posix_spawn(" + argv[0] + ") failed");
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void ubcctl(const std::vector<std::string>& args) {
  if (run_quietly("ubcctl", args) != 0) {
    std::string line;
    for (const auto& arg : args) line += " " + arg;
    throw std::runtime_error("ubcctl" + line + " failed");
  }
}

double seconds_of(const std::vector<std::string>& args) {
  const auto start = Clock::now();
  ubcctl(args);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The whole answer, headers and body; empty when nothing answered.
std::string scrape(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\n\r\n";
    if (::write(fd, request.data(), request.size()) > 0) {
      char buffer[65536];
      for (ssize_t got; (got = ::read(fd, buffer, sizeof buffer)) > 0;) answer.append(buffer, got);
    }
  }
  ::close(fd);
  return answer;
}

// The value of an unlabelled sample in a scrape, or -1.
double sample(const std::string& scraped, const std::string& name) {
  const auto at = scraped.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(scraped.substr(at + name.size() + 2));
}

struct Row {
  std::string what;
  double measured;
  double goal;
  std::string unit;  // "s", "ms" or "x" (a ratio loaded/unloaded)
  std::string detail;
  bool reference = false;  // a figure to read the others by, with no goal of its own
};

void print(const std::vector<Row>& rows) {
  std::printf("\n%-40s %12s %12s %8s  %s\n", "what", "measured", "goal", "met", "detail");
  for (const auto& row : rows) {
    if (row.reference) {
      std::printf("%-40s %10.3f%-2s %12s %8s  %s\n", row.what.c_str(), row.measured, row.unit.c_str(), "-", "-",
                  row.detail.c_str());
      continue;
    }
    std::printf("%-40s %10.3f%-2s %10.3f%-2s %8s  %s\n", row.what.c_str(), row.measured, row.unit.c_str(), row.goal,
                row.unit.c_str(), row.measured <= row.goal ? "yes" : "no", row.detail.c_str());
  }
}

std::vector<Row> measure_hooks(const ubc::HostPaths& paths, int calls, int rounds, std::chrono::seconds settle) {
  const std::string ct = "scale-hooks";
  const fs::path scratch = fs::temp_directory_path() / "ubc-scale-bench";
  fs::create_directories(scratch);
  ubcctl({"create", ct});
  const fs::path cgroup = paths.cgroup_root / ct;
  const auto operations = ubc::bench::hook_operations(scratch);
  std::vector<std::vector<double>> loaded(operations.size()), unloaded(operations.size());
  for (int round = 0; round < rounds; ++round) {  // interleaved: drift hits both alike
    // The kernel frees an unloaded engine (its maps, programs, trampolines) in the
    // background for seconds, and loading leaves work behind too: measuring at once would
    // charge that work to whichever side comes next.
    std::this_thread::sleep_for(settle);
    auto with = ubc::bench::micros_per_call_in_cgroup(cgroup, scratch, calls);
    ubcctl({"unload"});
    std::this_thread::sleep_for(settle);
    auto without = ubc::bench::micros_per_call_in_cgroup(cgroup, scratch, calls);
    ubcctl({"load"});
    for (std::size_t i = 0; i < operations.size(); ++i) {
      loaded[i].push_back(with[i]);
      unloaded[i].push_back(without[i]);
    }
    std::fprintf(stderr, "hooks: round %d of %d done\n", round + 1, rounds);
  }
  // --force: a reaped child leaves its cgroup a moment after waitpid returns (the kernel
  // moves a dead task out at its last switch), so the CT can still read as populated.
  ubcctl({"destroy", "--force", ct});
  fs::remove_all(scratch);
  std::vector<Row> rows;
  for (std::size_t i = 0; i < operations.size(); ++i) {
    const double on = median(loaded[i]), off = median(unloaded[i]);
    char detail[96];
    std::snprintf(detail, sizeof detail, "%.2f us loaded, %.2f us unloaded", on, off);
    const double goal = operations[i].what == "fork+exit+wait" ? 1.05 : 1.10;
    rows.push_back({operations[i].what + " in a CT", on / off, goal, "x", detail});
  }
  return rows;
}

// With the engine loaded: each operation alone, and the ubc programs that ran meanwhile,
// with their runs and time per operation (the kernel's BPF run-time statistics; the host's
// other activity in that time is in them too).
void profile_hooks(const ubc::HostPaths& paths, int calls) {
  const std::string ct = "scale-profile";
  const fs::path scratch = fs::temp_directory_path() / "ubc-scale-bench";
  fs::create_directories(scratch);
  ubcctl({"create", ct});
  const ubc::bench::ProgramStats stats;
  const auto operations = ubc::bench::hook_operations(scratch);
  const double per_operation = 1.0 / ubc::bench::calls_with_warm_up(calls);
  for (std::size_t i = 0; i < operations.size(); ++i) {
    const auto before = stats.read();
    const double micros = ubc::bench::micros_per_call_in_cgroup(paths.cgroup_root / ct, scratch, calls, i).front();
    const auto ran = ubc::bench::difference(before, stats.read());
    double bpf_micros = 0;
    for (const auto& [name, cost] : ran) bpf_micros += static_cast<double>(cost.nanoseconds) / 1000 * per_operation;
    std::printf("\n%s: %.2f us per operation, %.2f us of it in ubc's programs\n", operations[i].what.c_str(), micros,
                bpf_micros);
    std::printf("  %-28s %10s %10s %10s\n", "program", "runs/op", "ns/run", "ns/op");
    for (const auto& [name, cost] : ran)
      std::printf("  %-28s %10.2f %10.0f %10.0f\n", name.c_str(), static_cast<double>(cost.runs) * per_operation,
                  static_cast<double>(cost.nanoseconds) / static_cast<double>(cost.runs),
                  static_cast<double>(cost.nanoseconds) * per_operation);
  }
  // --force: a reaped child leaves its cgroup a moment after waitpid returns (the kernel
  // moves a dead task out at its last switch), so the CT can still read as populated.
  ubcctl({"destroy", "--force", ct});
  fs::remove_all(scratch);
}

std::vector<Row> measure_reads(int cts) {
  std::vector<double> creates;
  for (int i = 1; i <= cts; ++i) {
    creates.push_back(seconds_of({"create", "scale-" + std::to_string(i)}));
    if (i % 100 == 0) std::fprintf(stderr, "reads: %d CTs created\n", i);
  }
  std::vector<Row> rows;
  const std::string all = "ubcctl show (" + std::to_string(cts) + " CTs)";
  rows.push_back({"ubcctl create (per CT)", median(creates) * 1000, 50, "ms", "median of " + std::to_string(cts)});
  std::vector<double> starts, shows, shows_one;
  std::vector<double> trues;
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    if (::system("/bin/true") != 0) throw std::runtime_error("/bin/true failed");
    trues.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  rows.push_back({"sh -c /bin/true (any process start)", median(trues), 0, "ms", "median of 5", true});
  for (int i = 0; i < 5; ++i) starts.push_back(seconds_of({"--help"}) * 1000);
  rows.push_back({"ubcctl --help (the process alone)", median(starts), 0, "ms", "median of 5", true});
  for (int i = 0; i < 3; ++i) shows.push_back(seconds_of({"show"}));
  rows.push_back({all, median(shows), 1, "s", "median of 3"});
  const std::string middle = "scale-" + std::to_string((cts + 1) / 2);
  for (int i = 0; i < 5; ++i) shows_one.push_back(seconds_of({"show", middle}) * 1000);
  rows.push_back({"ubcctl show " + middle, median(shows_one), 50, "ms", "median of 5"});

  const std::string listen = "127.0.0.1:" + std::to_string(kUbcdPort);
  std::vector<std::string> argv{(kBin / "ubcd").string(), "--listen", listen, "--pidfile",
                                (fs::temp_directory_path() / "ubc-scale-bench-ubcd.pid").string()};
  std::vector<char*> pointers;
  for (auto& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  pid_t ubcd = 0;
  if (posix_spawn(&ubcd, pointers[0], nullptr, nullptr, pointers.data(), environ))
    throw std::runtime_error("posix_spawn(ubcd) failed");
  for (int i = 0; i < 600 && scrape(kUbcdPort).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::vector<double> scrapes;
  std::vector<double> readings;
  std::size_t bytes = 0;
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    const std::string scraped = scrape(kUbcdPort);
    scrapes.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    bytes = scraped.size();
    readings.push_back(sample(scraped, "ubc_snapshot_duration_seconds"));
  }
  ::kill(ubcd, SIGTERM);
  ::waitpid(ubcd, nullptr, 0);
  rows.push_back(
      {"one ubcd /metrics scrape", median(scrapes), 1, "s", "median of 3, " + std::to_string(bytes / 1024) + " KiB"});
  rows.push_back({"ubcd's reading of every CT", median(readings), 0, "s",
                  "in the background, every --refresh seconds (ubc_snapshot_duration_seconds)", true});
  for (int i = 1; i <= cts; ++i) ubcctl({"destroy", "scale-" + std::to_string(i)});
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"What ubc costs with a thousand CTs: hook overhead and whole-host reads, against the goals"};
  int cts = 1000, calls = 5000, rounds = 1, settle = 10;
  bool skip_hooks = false, skip_reads = false, profile = false;
  app.add_option("--cts", cts, "CTs to create for the reads")->check(CLI::PositiveNumber);
  app.add_option("--calls", calls, "Calls of each operation per measurement")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "Loaded/unloaded rounds (the median is kept)")->check(CLI::PositiveNumber);
  app.add_option("--settle", settle, "Seconds to wait after each load and unload before measuring")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--skip-hooks", skip_hooks, "Measure the reads only");
  app.add_flag("--skip-reads", skip_reads, "Measure the hooks only");
  app.add_flag("--profile", profile,
               "Before all else, the time each of ubc's BPF programs takes per operation (kernel.bpf_stats)");
  CLI11_PARSE(app, argc, argv);
  try {
    const ubc::HostPaths paths = ubc::HostPaths::discover();
    if (!ubc::Host(paths).list().empty())
      throw std::runtime_error("this host has CTs already; run the benchmark on a host (or VM) without any");
    if (!ubc::Host(paths).engine_loaded()) ubcctl({"load"});
    if (profile) profile_hooks(paths, calls);
    std::vector<Row> rows;
    if (!skip_hooks)
      for (auto& row : measure_hooks(paths, calls, rounds, std::chrono::seconds(settle)))
        rows.push_back(std::move(row));
    if (!skip_reads)
      for (auto& row : measure_reads(cts)) rows.push_back(std::move(row));
    print(rows);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-scale-bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
