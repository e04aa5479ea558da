// The CT's own resources in its /proc view: the host's text with the CT's figures.
#include "ubc/proc_files.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <sstream>

namespace files = ubc::proc_files;

namespace {

constexpr const char* kHostMeminfo =
    "MemTotal:        8000000 kB\n"
    "MemFree:         5000000 kB\n"
    "MemAvailable:    6000000 kB\n"
    "Buffers:           10000 kB\n"
    "Cached:          1000000 kB\n"
    "Active(file):     400000 kB\n"
    "SwapTotal:       2000000 kB\n"
    "SwapFree:        2000000 kB\n"
    "Shmem:              9000 kB\n"
    "VmallocTotal:   34359738367 kB\n"
    "HugePages_Total:       0\n";

// The number on meminfo's line `key`, in kB; -1 if there is none.
long long value_of(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  return -1;
}

files::MemoryFigures ct_with_limit(std::uint64_t limit) {
  files::MemoryFigures ct;
  ct.limit = limit;
  ct.usage = 100 << 20;
  ct.swap_limit = 64 << 20;
  ct.swap_usage = 16 << 20;
  ct.stat = {
      {"file", 40 << 20}, {"active_file", 30 << 20},     {"inactive_file", 10 << 20},    {"active_anon", 50 << 20},
      {"shmem", 1 << 20}, {"slab_reclaimable", 2 << 20}, {"slab_unreclaimable", 3 << 20}};
  return ct;
}

}  // namespace

TEST_CASE("meminfo: the CT's limit is its total, and memory.stat's figures are its own") {
  const std::string text = files::meminfo(kHostMeminfo, ct_with_limit(256 << 20));
  CHECK(value_of(text, "MemTotal") == 262144);
  CHECK(value_of(text, "MemFree") == 262144 - 102400);
  // Free plus the page cache and the slab the kernel can take back.
  CHECK(value_of(text, "MemAvailable") == 262144 - 102400 + 40960 + 2048);
  CHECK(value_of(text, "Buffers") == 0);
  CHECK(value_of(text, "Cached") == 40960);
  CHECK(value_of(text, "Active(file)") == 30720);
  CHECK(value_of(text, "Shmem") == 1024);
  CHECK(value_of(text, "SwapTotal") == 65536);
  CHECK(value_of(text, "SwapFree") == 65536 - 16384);
  // What the memory cgroup has no figure for is the host's, line for line.
  CHECK(text.find("VmallocTotal:   34359738367 kB\n") != std::string::npos);
  CHECK(text.find("HugePages_Total:       0\n") != std::string::npos);
  // The kernel's layout: key and colon in 16 columns, the number in 8.
  CHECK(text.rfind("MemTotal:         262144 kB\n", 0) == 0);
}

TEST_CASE("meminfo: never more than the host has, and the host's total without a limit") {
  auto unlimited = ct_with_limit(0);
  unlimited.limit.reset();
  unlimited.swap_limit.reset();
  const std::string text = files::meminfo(kHostMeminfo, unlimited);
  CHECK(value_of(text, "MemTotal") == 8000000);
  CHECK(value_of(text, "MemFree") == 6000000);  // capped at the host's available memory
  CHECK(value_of(text, "MemAvailable") == 6000000);
  CHECK(value_of(text, "SwapTotal") == 2000000);

  const std::string huge = files::meminfo(kHostMeminfo, ct_with_limit(std::uint64_t{1} << 50));
  CHECK(value_of(huge, "MemTotal") == 8000000);

  // A CT at its limit has nothing free, not a wrapped-around number.
  auto full = ct_with_limit(64 << 20);
  full.usage = 80 << 20;
  CHECK(value_of(files::meminfo(kHostMeminfo, full), "MemFree") == 0);
}

TEST_CASE("swaps: one virtual device of the CT's swap, or none") {
  const std::string text = files::swaps(kHostMeminfo, ct_with_limit(256 << 20));
  CHECK(text.rfind("Filename", 0) == 0);
  std::istringstream lines(text);
  std::string header, device, type;
  std::getline(lines, header);
  long long size = 0, used = 0, priority = 0;
  lines >> device >> type >> size >> used >> priority;
  CHECK(device == "none");
  CHECK(type == "virtual");
  CHECK(size == 65536);
  CHECK(used == 16384);

  auto no_swap = ct_with_limit(256 << 20);
  no_swap.swap_limit = 0;
  CHECK(files::swaps(kHostMeminfo, no_swap) == header + "\n");
}

TEST_CASE("uptime and stat: the CT's time up and its CPU time over its CPUs") {
  files::CpuFigures ct;
  ct.user_usec = 3000000;    // 3 s
  ct.system_usec = 1000000;  // 1 s
  ct.cpus = {2, 5};
  ct.seconds_up = 10;
  CHECK(files::uptime(ct) == "10.00 16.00\n");  // 2 CPUs x 10 s, less 4 s busy

  const std::string host_stat =
      "cpu  900 1 800 70000 5 0 3 0 0 0\n"
      "cpu0 300 0 300 20000 1 0 1 0 0 0\n"
      "cpu1 300 1 300 30000 2 0 1 0 0 0\n"
      "cpu2 300 0 200 20000 2 0 1 0 0 0\n"
      "intr 12345 0 0\n"
      "ctxt 999\n"
      "btime 1700000000\n"
      "processes 42\n";
  const std::string text = files::stat(host_stat, ct, 100);
  CHECK(text ==
        "cpu  300 0 100 1600 0 0 0 0 0 0\n"
        "cpu0 150 0 50 800 0 0 0 0 0 0\n"
        "cpu1 150 0 50 800 0 0 0 0 0 0\n"
        "intr 12345 0 0\n"
        "ctxt 999\n"
        "btime 1700000000\n"  // kept: ps counts process start times from it
        "processes 42\n");
}

TEST_CASE("cpu online: the CT's CPUs in the kernel's list form") {
  CHECK(files::cpu_online({0}) == "0\n");
  CHECK(files::cpu_online({0, 1, 2, 3, 6, 8, 9}) == "0-3,6,8-9\n");
  CHECK(files::cpu_online({5, 2, 3}) == "2-3,5\n");
}

TEST_CASE("cpuinfo: the CT's CPUs only, numbered from 0") {
  const std::string host =
      "processor\t: 0\nmodel name\t: A\n\n"
      "processor\t: 1\nmodel name\t: B\n\n"
      "processor\t: 2\nmodel name\t: C\n\n";
  CHECK(files::cpuinfo(host, {1, 2}) == "processor\t: 0\nmodel name\t: B\n\nprocessor\t: 1\nmodel name\t: C\n\n");
  CHECK(files::cpuinfo(host, {}) == host);
  // An architecture's header without a processor line stays.
  CHECK(files::cpuinfo("Hardware\t: X\n\n" + host, {0}) == "Hardware\t: X\n\nprocessor\t: 0\nmodel name\t: A\n\n");
}

TEST_CASE("loadavg: the kernel's decay over 1, 5 and 15 minutes, printed as the kernel prints it") {
  files::LoadAverage load;
  CHECK(files::loadavg(load, 0, 3, 77) == "0.00 0.00 0.00 0/3 77\n");
  // One minute of 2 busy tasks: the 1-minute average gets 1-1/e of the way (1.264, 1.27
  // with the kernel's rounding up of a rising load), the longer ones less.
  for (int period = 0; period < 12; ++period) load.sample(2);
  const auto one_minute = files::loadavg(load, 2, 5, 100);
  CHECK(one_minute.rfind("1.27 0.37 0.13 2/5 100\n", 0) == 0);
  // Held long enough, every average reaches the load.
  for (int period = 0; period < 2000; ++period) load.sample(2);
  CHECK(files::loadavg(load, 2, 5, 100) == "2.00 2.00 2.00 2/5 100\n");
  // And decays back when the tasks go to sleep.
  for (int period = 0; period < 12; ++period) load.sample(0);
  CHECK(files::loadavg(load, 0, 5, 100).rfind("0.73 ", 0) == 0);
}

TEST_CASE("diskstats: the devices the CT did I/O on, with its own requests and sectors") {
  const std::string host =
      "   7       0 loop0 10 0 80 4 0 0 0 0 0 8 4 0 0 0 0 0 0\n"
      " 254       0 vda 5000 100 400000 900 7000 200 560000 1200 0 3000 2100 50 0 4096 7 300 20\n"
      " 254       1 vda1 4000 90 300000 800 6000 150 500000 1100 0 2900 1900 0 0 0 0 0 0\n"
      "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n";
  const auto io = ubc::proc_files::parse_io_stat(
      "254:0 rbytes=1048576 wbytes=4096 rios=256 wios=1 dbytes=8192 dios=2\n8:0 rbytes=512 wbytes=0 rios=1 wios=0\n");
  CHECK(ubc::proc_files::diskstats(host, io) ==
        " 254       0 vda 256 0 2048 0 1 0 8 0 0 0 0 2 0 16 0 0 0\n"
        "   8       0 sda 1 0 1 0 0 0 0 0 0 0 0\n");
  CHECK(ubc::proc_files::diskstats(host, {}).empty());
  // Listed by the kernel because the CT's cgroup has a limit or weight there, no I/O done.
  CHECK(ubc::proc_files::diskstats(
            host, ubc::proc_files::parse_io_stat("7:0 rbytes=0 wbytes=0 rios=0 wios=0 dbytes=0 dios=0\n"))
            .empty());
  CHECK(ubc::proc_files::parse_io_stat("garbage\n7:0 rios=x\n").at({7, 0}).rios == 0);
}

TEST_CASE("sysinfo: the CT's meminfo figures in bytes, its time up, load and tasks") {
  const std::string ct_meminfo =
      "MemTotal:         262144 kB\nMemFree:          200000 kB\nBuffers:               0 kB\n"
      "Shmem:              1024 kB\nSwapTotal:         65536 kB\nSwapFree:          60000 kB\n";
  files::LoadAverage load;
  for (int i = 0; i < 60; ++i) load.sample(2);
  const struct sysinfo info = files::sysinfo_of(ct_meminfo, 42.9, load, 7);
  CHECK(info.totalram == 262144ULL * 1024);
  CHECK(info.freeram == 200000ULL * 1024);
  CHECK(info.sharedram == 1024ULL * 1024);
  CHECK(info.bufferram == 0);
  CHECK(info.totalswap == 65536ULL * 1024);
  CHECK(info.freeswap == 60000ULL * 1024);
  CHECK(info.mem_unit == 1);
  CHECK(info.uptime == 42);
  CHECK(info.procs == 7);
  // The kernel's fixed point (11 bits) widened to sysinfo's (16 bits): the same load.
  CHECK(info.loads[0] == load.fixed_point()[0] << 5);
  CHECK(info.loads[0] / 65536.0 > 1.5);
}
