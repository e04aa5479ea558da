// What a CT sees of its own resources in its /proc view, as lxcfs gives LXC and VSwap gave
// OpenVZ: the host's procfs text with the figures that describe the whole machine replaced
// by the CT's (its memory cgroup, its CPU time and CPUs, its start). Pure text in, text out;
// ubc/ct_figures.h reads the figures and tools/ubc-procfs.cpp serves the files.
#pragma once

#include <sys/sysinfo.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ubc::proc_files {

// A CT's memory cgroup, in bytes.
struct MemoryFigures {
  std::optional<std::uint64_t> limit;         // memory.max (physpages' limit); none = unlimited
  std::uint64_t usage = 0;                    // memory.current
  std::optional<std::uint64_t> swap_limit;    // memory.swap.max (swappages' limit)
  std::uint64_t swap_usage = 0;               // memory.swap.current
  std::map<std::string, std::uint64_t> stat;  // memory.stat
};

// A CT's CPU cgroup and its place in time.
struct CpuFigures {
  std::uint64_t user_usec = 0;    // cpu.stat
  std::uint64_t system_usec = 0;  // cpu.stat
  std::vector<unsigned> cpus;     // cpuset.cpus.effective, in the host's numbering
  double seconds_up = 0;          // since the CT's init started
};

// A CT's block I/O on one device, as its io.stat counts it (bytes and completed requests).
struct IoCounts {
  std::uint64_t rbytes = 0, wbytes = 0, rios = 0, wios = 0, dbytes = 0, dios = 0;
};
// By device number (major, minor).
using IoFigures = std::map<std::pair<unsigned, unsigned>, IoCounts>;
// io.stat's text: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per line.
IoFigures parse_io_stat(const std::string& io_stat);

// /proc/meminfo: MemTotal is the CT's limit (the host's total where it has none, or where
// the limit is larger), free and available memory are what the limit leaves (never more
// than the host has available), and every figure memory.stat keeps (Cached, Active, Shmem,
// Slab ...) is the CT's. SwapTotal is the CT's swap limit (at most the host's swap).
// Lines the memory cgroup has no figure for (Vmalloc*, HugePages_*, DirectMap*,
// CommitLimit ...) are the host's.
std::string meminfo(const std::string& host_meminfo, const MemoryFigures& ct);
// /proc/swaps: one virtual device of the CT's swap size and use, or none without swap.
std::string swaps(const std::string& host_meminfo, const MemoryFigures& ct);
// /proc/uptime: the CT's time up, and the idle time of its CPUs (their time up less the
// CT's CPU time).
std::string uptime(const CpuFigures& ct);
// /proc/stat: the "cpu" line is the CT's user and system time and its CPUs' idle time,
// one "cpuN" line per CT CPU, numbered from 0, each an equal share (cgroup v2 keeps no
// per-CPU time); every other line (btime, ctxt, processes ...) is the host's.
std::string stat(const std::string& host_stat, const CpuFigures& ct, long ticks_per_second);
// The kernel's load average (kernel/sched/loadavg.c), kept for a CT: the number of its
// tasks running or waiting for the CPU or for I/O, sampled every 5 seconds, decayed over
// 1, 5 and 15 minutes, in the kernel's fixed point.
class LoadAverage {
 public:
  static constexpr unsigned kSampleSeconds = 5;
  // One 5-second period in which `active` tasks were running or uninterruptible.
  void sample(unsigned active);
  const std::array<std::uint64_t, 3>& fixed_point() const { return averages_; }

 private:
  std::array<std::uint64_t, 3> averages_{};
};

// /proc/loadavg: the CT's three averages, its tasks running now and all its tasks, and the
// last pid its pid namespace gave (`last_pid`, from its own procfs).
std::string loadavg(const LoadAverage& load, unsigned running, unsigned tasks, long last_pid);

// /proc/diskstats: the host's lines for the devices the CT has done I/O on (lxcfs hides the
// others too), with the CT's reads, writes and discards and their sectors. The cgroup keeps
// no times, merges or requests in flight: those fields are 0.
std::string diskstats(const std::string& host_diskstats, const IoFigures& ct);

// sysinfo(2) as the CT's tasks get it: memory and swap from the CT's meminfo (`ct_meminfo`,
// as rendered above, so that both say the same), its time up, its load averages and task
// count; mem_unit 1. The kernel's high memory fields are 0, as on 64-bit.
struct sysinfo sysinfo_of(const std::string& ct_meminfo, double seconds_up, const LoadAverage& load, unsigned tasks);

// /sys/devices/system/cpu/online: the CT's CPUs in the kernel's list form ("0-3,6"), in the
// host's numbering, as sched_getaffinity gives them to the CT's tasks.
std::string cpu_online(const std::vector<unsigned>& cpus);

// /proc/cpuinfo: the host's entries for the CT's CPUs only, numbered from 0.
std::string cpuinfo(const std::string& host_cpuinfo, const std::vector<unsigned>& cpus);

}  // namespace ubc::proc_files
