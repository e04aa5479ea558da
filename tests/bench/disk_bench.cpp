// ubc-disk-bench: the disk policy (issue 18) measured in one run and printed against what
// it should give. Run it as root on a host with no CTs of its own, e.g. in the bundled VM:
// tools/ubc-vm -- ubc-disk-bench
//
// - ioprio: pairs of CTs reading a null_blk disk (2 ms a request) under BFQ at once; the
//   ratio of their throughputs against the ratio of their weights.
// - iolimit and iopslimit: one CT reading flat out under each limit; what it got against
//   the limit.
// - quota: the same writes into a CT's files on ext4 with and without its project quota;
//   the time with the quota against the time without.
// Everything it makes is destroyed at the end.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loader/cgroup.h"
#include "sched/io_policy.h"
#include "ubc/host.h"
#include "ubc/proc_files.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const fs::path kBin = fs::read_symlink("/proc/self/exe").parent_path();
constexpr double kMiB = 1024.0 * 1024.0;

pid_t spawn(const std::vector<std::string>& args, bool quiet) {
  std::vector<std::string> argv = args;
  std::vector<char*> pointers;
  for (auto& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  const int failed = posix_spawnp(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (failed) throw std::runtime_error("posix_spawn(" + argv[0] + ") failed");
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void run(const std::vector<std::string>& args) {
  if (wait_for(spawn(args, true)) != 0) {
    std::string line;
    for (const auto& arg : args) line += " " + arg;
    throw std::runtime_error(line.substr(1) + " failed");
  }
}

void ubcctl(std::vector<std::string> args) {
  args.insert(args.begin(), (kBin / "ubcctl").string());
  run(args);
}

void shell(const std::string& command) {
  run({"sh", "-c", command});
}

// A null_blk disk whose every request takes `latency`, under BFQ holding its weights
// strictly (docs/IO.md).
class NullDisk {
 public:
  explicit NullDisk(std::chrono::microseconds latency) {
    shell(
        "modprobe -r null_blk 2>/dev/null; modprobe null_blk nr_devices=1 queue_mode=2 irqmode=2 gb=4 bs=4096 "
        "completion_nsec=" +
        std::to_string(latency.count() * 1000));
    shell(
        "modprobe bfq 2>/dev/null; echo bfq > /sys/block/nullb0/queue/scheduler && "
        "echo 0 > /sys/block/nullb0/queue/iosched/low_latency && "
        "echo 1 > /sys/block/nullb0/queue/iosched/strict_guarantees");
    const std::string dev = ubc::cgroup::first_line("/sys/block/nullb0/dev");
    const auto colon = dev.find(':');
    device_ = {static_cast<unsigned>(std::stoul(dev.substr(0, colon))),
               static_cast<unsigned>(std::stoul(dev.substr(colon + 1)))};
  }
  ~NullDisk() { ::system("modprobe -r null_blk 2>/dev/null"); }
  NullDisk(const NullDisk&) = delete;
  NullDisk& operator=(const NullDisk&) = delete;
  const ubc::sched::BlockDevice& device() const { return device_; }

 private:
  ubc::sched::BlockDevice device_;
};

// CTs without files (their tasks are host programs in their cgroup), granted the disk.
class BenchCts {
 public:
  BenchCts(ubc::Host& host, int count) : host_(host) {
    for (int i = 0; i < count; ++i) {
      ids_.push_back("disk-bench-" + std::to_string(i));
      ubcctl({"create", ids_.back()});
      ubcctl({"set", ids_.back(), "--devices", "nullb0:rw"});
    }
  }
  ~BenchCts() {
    for (const auto& id : ids_)
      ::system(((kBin / "ubcctl").string() + " destroy --force " + id + " >/dev/null 2>&1").c_str());
  }
  BenchCts(const BenchCts&) = delete;
  BenchCts& operator=(const BenchCts&) = delete;
  const std::string& operator[](std::size_t i) const { return ids_[i]; }
  ubc::proc_files::IoCounts io(std::size_t i, const ubc::sched::BlockDevice& device) const {
    const auto figures = ubc::proc_files::parse_io_stat(ubc::cgroup::read_file(host_.cgroup_of(ids_[i]) / "io.stat"));
    const auto found = figures.find({device.major, device.minor});
    return found == figures.end() ? ubc::proc_files::IoCounts{} : found->second;
  }

 private:
  ubc::Host& host_;
  std::vector<std::string> ids_;
};

struct Rates {
  double bytes = 0, ops = 0;
};

// Runs `reader` (a dd reading nullb0) in each of `cts` at once for `seconds`, and returns
// what each read per second in the middle of it (the first and last second left out).
std::vector<Rates> read_together(const BenchCts& cts, std::size_t count, const ubc::sched::BlockDevice& device,
                                 const std::string& block_size, int seconds) {
  std::vector<pid_t> readers;
  for (std::size_t i = 0; i < count; ++i)
    readers.push_back(spawn({(kBin / "ubcctl").string(), "exec", cts[i], "--", "timeout", std::to_string(seconds), "dd",
                             "if=/dev/nullb0", "of=/dev/null", "bs=" + block_size, "iflag=direct"},
                            true));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::vector<ubc::proc_files::IoCounts> before;
  for (std::size_t i = 0; i < count; ++i) before.push_back(cts.io(i, device));
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds - 3));
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<Rates> rates;
  for (std::size_t i = 0; i < count; ++i) {
    const auto after = cts.io(i, device);
    rates.push_back({(after.rbytes - before[i].rbytes) / elapsed, (after.rios - before[i].rios) / elapsed});
  }
  for (const pid_t reader : readers) wait_for(reader);
  return rates;
}

void measure_ioprio(ubc::Host& host, int seconds) {
  std::printf("== ioprio under BFQ: two CTs reading one disk (2 ms a request) at once, %d s\n", seconds);
  std::printf("%-10s %14s %14s %12s %12s %8s\n", "ioprio", "MiB/s (a)", "MiB/s (b)", "ideal a/b", "measured", "ratio");
  NullDisk disk(std::chrono::milliseconds(2));
  BenchCts cts(host, 2);
  for (const auto& [a, b] : std::vector<std::pair<int, int>>{{7, 0}, {6, 2}, {5, 3}, {4, 4}}) {
    ubcctl({"set", cts[0], "--ioprio", std::to_string(a)});
    ubcctl({"set", cts[1], "--ioprio", std::to_string(b)});
    const auto rates = read_together(cts, 2, disk.device(), "64k", seconds);
    const double ideal = static_cast<double>(ubc::sched::io_weight(a)) / ubc::sched::io_weight(b);
    const double measured = rates[0].bytes / rates[1].bytes;
    std::printf("%-10s %14.2f %14.2f %12.3f %12.3f %8.3f\n", (std::to_string(a) + ":" + std::to_string(b)).c_str(),
                rates[0].bytes / kMiB, rates[1].bytes / kMiB, ideal, measured, measured / ideal);
  }
}

void measure_limits(ubc::Host& host, int seconds) {
  std::printf("\n== iolimit and iopslimit: one CT reading flat out, %d s each\n", seconds);
  std::printf("%-22s %14s %14s %8s\n", "limit", "target", "measured", "ratio");
  NullDisk disk(std::chrono::microseconds(200));
  BenchCts cts(host, 1);
  for (const int mib : {5, 10, 20}) {
    ubcctl({"set", cts[0], "--iolimit", std::to_string(mib) + "M", "--iopslimit", "0"});
    const double measured = read_together(cts, 1, disk.device(), "64k", seconds).front().bytes / kMiB;
    std::printf("%-22s %14d %14.2f %8.3f\n", ("--iolimit " + std::to_string(mib) + "M (MiB/s)").c_str(), mib, measured,
                measured / mib);
  }
  for (const int ops : {50, 100, 200}) {
    ubcctl({"set", cts[0], "--iolimit", "0", "--iopslimit", std::to_string(ops)});
    const double measured = read_together(cts, 1, disk.device(), "4k", seconds).front().ops;
    std::printf("%-22s %14d %14.2f %8.3f\n", ("--iopslimit " + std::to_string(ops) + " (ops/s)").c_str(), ops, measured,
                measured / ops);
  }
}

// The same writes (a file of `mib` MiB in 64 KiB writes, fsync'd, `rounds` times) into two
// directories of one ext4 with project quotas: one of no project, and a CT's, with limits.
void measure_quota(int mib, int rounds) {
  std::printf("\n== disk quota: %d x %d MiB written and fsync'd into a CT's files on ext4 (loop device)\n", rounds,
              mib);
  const fs::path image = fs::temp_directory_path() / "ubc-disk-bench.img";
  const fs::path mount = fs::temp_directory_path() / "ubc-disk-bench";
  shell("truncate -s 1G " + image.string());
  const std::string loop_file = (fs::temp_directory_path() / "ubc-disk-bench.loop").string();
  shell("losetup --find --show " + image.string() + " > " + loop_file);
  const std::string loop = ubc::cgroup::first_line(loop_file);
  fs::create_directories(mount);
  shell("mkfs.ext4 -q -O quota,project -E quotatype=prjquota,lazy_itable_init=0,lazy_journal_init=0 " + loop +
        " && mount -o prjquota " + loop + " " + mount.string());
  auto write_once = [&](const fs::path& dir) {
    const auto start = Clock::now();
    shell("dd if=/dev/zero of=" + (dir / "fill").string() + " bs=64k count=" + std::to_string(mib * 16) +
          " conv=fsync status=none && rm " + (dir / "fill").string());
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  auto median = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  };
  const fs::path plain = mount / "plain", ct_root = mount / "ct";
  fs::create_directories(plain);
  fs::create_directories(ct_root);
  ubcctl({"create", "disk-bench-quota", "--root", ct_root.string()});
  std::string error;
  double without = 0, with = 0;
  try {
    ubcctl({"set", "disk-bench-quota", "--diskspace", "4G:4G", "--diskinodes", "1000000:1000000"});
    // Once each untimed (the loop device's backing file grows on the first pass), then
    // in turns, so that a drift of the host's speed lands on both sides.
    write_once(plain);
    write_once(ct_root);
    std::vector<double> plain_times, quota_times;
    for (int round = 0; round < rounds; ++round) {
      plain_times.push_back(write_once(plain));
      quota_times.push_back(write_once(ct_root));
    }
    without = median(plain_times);
    with = median(quota_times);
  } catch (const std::exception& failure) {
    error = failure.what();
  }
  ::system((kBin / "ubcctl").string().append(" destroy --force disk-bench-quota >/dev/null 2>&1").c_str());
  ::system(("umount " + mount.string() + "; losetup -d " + loop).c_str());
  fs::remove(image);
  fs::remove(loop_file);
  if (!error.empty()) throw std::runtime_error(error);
  std::printf("%-34s %10s %10s %8s\n", "", "without", "with", "ratio");
  std::printf("%-34s %10.3f %10.3f %8.3f\n", "seconds (median)", without, with, with / without);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The disk policy (ioprio, iolimit, iopslimit, quota) against what it should give"};
  int seconds = 10, quota_mib = 64, quota_rounds = 5;
  app.add_option("--seconds", seconds, "Length of each throughput measurement (at least 5)")->check(CLI::Range(5, 600));
  app.add_option("--quota-mib", quota_mib, "MiB written per quota round")->check(CLI::PositiveNumber);
  app.add_option("--quota-rounds", quota_rounds, "Quota rounds (the median is kept)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    ubc::Host host(ubc::HostPaths::discover());
    if (!host.list().empty())
      throw std::runtime_error("this host has CTs already; run the benchmark on a host (or VM) without any");
    if (!host.engine_loaded()) ubcctl({"load"});
    shell("modprobe loop 2>/dev/null; true");
    measure_ioprio(host, seconds);
    measure_limits(host, seconds);
    measure_quota(quota_mib, quota_rounds);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-disk-bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
