#include "ubc/proc_files.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>

namespace ubc::proc_files {

namespace {

constexpr std::uint64_t kKiB = 1024;

// The value of `key` in meminfo's text, in kB (0 if the kernel does not print it).
std::uint64_t meminfo_value(const std::string& text, const std::string& key) {
  const std::string label = key + ":";
  for (std::size_t at = 0; at < text.size();) {
    const auto end = std::min(text.find('\n', at), text.size());
    if (text.compare(at, label.size(), label) == 0) return std::strtoull(text.c_str() + at + label.size(), nullptr, 10);
    at = end + 1;
  }
  return 0;
}

// The kernel's layout (show_val_kb): the key and its colon in 16 columns, the value in 8.
std::string meminfo_line(const std::string& key, std::uint64_t kib) {
  char line[96];
  std::snprintf(line, sizeof line, "%-16s%8" PRIu64 " kB\n", (key + ":").c_str(), kib);
  return line;
}

std::uint64_t stat_kib(const MemoryFigures& ct, const char* key) {
  const auto it = ct.stat.find(key);
  return it == ct.stat.end() ? 0 : it->second / kKiB;
}

struct SwapSize {
  std::uint64_t total_kib;
  std::uint64_t used_kib;
};

SwapSize swap_of(const std::string& host_meminfo, const MemoryFigures& ct) {
  std::uint64_t total = meminfo_value(host_meminfo, "SwapTotal");
  if (ct.swap_limit) total = std::min(total, *ct.swap_limit / kKiB);
  return {total, std::min(total, ct.swap_usage / kKiB)};
}

std::uint64_t ticks(std::uint64_t usec, long ticks_per_second) {
  return usec * static_cast<std::uint64_t>(ticks_per_second) / 1000000;
}

// Whether `line` starts with "cpu" and a CPU number or a blank: /proc/stat's CPU lines.
bool is_cpu_line(const std::string& line) {
  return line.size() > 3 && line.compare(0, 3, "cpu") == 0 && (line[3] == ' ' || (line[3] >= '0' && line[3] <= '9'));
}

// The number after "processor ... :" on an entry's first line that names one.
std::optional<std::pair<std::size_t, unsigned>> processor_number(const std::string& entry) {
  for (std::size_t at = 0; at < entry.size();) {
    const auto end = std::min(entry.find('\n', at), entry.size());
    if (entry.compare(at, 9, "processor") == 0) {
      const auto colon = entry.find(':', at);
      if (colon == std::string::npos || colon > end) return std::nullopt;
      return std::pair{colon + 1, static_cast<unsigned>(std::strtoul(entry.c_str() + colon + 1, nullptr, 10))};
    }
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::string meminfo(const std::string& host_meminfo, const MemoryFigures& ct) {
  const std::uint64_t host_total = meminfo_value(host_meminfo, "MemTotal");
  const std::uint64_t host_available = meminfo_value(host_meminfo, "MemAvailable");
  const std::uint64_t total = ct.limit ? std::min(*ct.limit / kKiB, host_total) : host_total;
  const std::uint64_t free = std::min(total - std::min(total, ct.usage / kKiB), host_available);
  const std::uint64_t reclaimable =
      stat_kib(ct, "active_file") + stat_kib(ct, "inactive_file") + stat_kib(ct, "slab_reclaimable");
  const std::uint64_t available = std::min({free + reclaimable, total, host_available});
  const SwapSize swap = swap_of(host_meminfo, ct);

  const std::map<std::string, std::function<std::uint64_t()>> ours = {
      {"MemTotal", [&] { return total; }},
      {"MemFree", [&] { return free; }},
      {"MemAvailable", [&] { return available; }},
      {"Buffers", [] { return std::uint64_t{0}; }},  // the memory cgroup keeps none apart
      {"Cached", [&] { return stat_kib(ct, "file"); }},
      {"SwapCached", [&] { return stat_kib(ct, "swapcached"); }},
      {"Active", [&] { return stat_kib(ct, "active_anon") + stat_kib(ct, "active_file"); }},
      {"Inactive", [&] { return stat_kib(ct, "inactive_anon") + stat_kib(ct, "inactive_file"); }},
      {"Active(anon)", [&] { return stat_kib(ct, "active_anon"); }},
      {"Inactive(anon)", [&] { return stat_kib(ct, "inactive_anon"); }},
      {"Active(file)", [&] { return stat_kib(ct, "active_file"); }},
      {"Inactive(file)", [&] { return stat_kib(ct, "inactive_file"); }},
      {"Unevictable", [&] { return stat_kib(ct, "unevictable"); }},
      {"SwapTotal", [&] { return swap.total_kib; }},
      {"SwapFree", [&] { return swap.total_kib - swap.used_kib; }},
      {"Zswap", [&] { return stat_kib(ct, "zswap"); }},
      {"Zswapped", [&] { return stat_kib(ct, "zswapped"); }},
      {"Dirty", [&] { return stat_kib(ct, "file_dirty"); }},
      {"Writeback", [&] { return stat_kib(ct, "file_writeback"); }},
      {"AnonPages", [&] { return stat_kib(ct, "anon"); }},
      {"Mapped", [&] { return stat_kib(ct, "file_mapped"); }},
      {"Shmem", [&] { return stat_kib(ct, "shmem"); }},
      {"KReclaimable", [&] { return stat_kib(ct, "slab_reclaimable"); }},
      {"Slab", [&] { return stat_kib(ct, "slab_reclaimable") + stat_kib(ct, "slab_unreclaimable"); }},
      {"SReclaimable", [&] { return stat_kib(ct, "slab_reclaimable"); }},
      {"SUnreclaim", [&] { return stat_kib(ct, "slab_unreclaimable"); }},
      {"KernelStack", [&] { return stat_kib(ct, "kernel_stack"); }},
      {"PageTables", [&] { return stat_kib(ct, "pagetables"); }},
      {"SecPageTables", [&] { return stat_kib(ct, "sec_pagetables"); }},
      {"Percpu", [&] { return stat_kib(ct, "percpu"); }},
      {"AnonHugePages", [&] { return stat_kib(ct, "anon_thp"); }},
      {"ShmemHugePages", [&] { return stat_kib(ct, "shmem_thp"); }},
      {"FileHugePages", [&] { return stat_kib(ct, "file_thp"); }},
  };

  std::string text;
  std::istringstream lines(host_meminfo);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    const auto figure = colon == std::string::npos ? ours.end() : ours.find(line.substr(0, colon));
    text += figure == ours.end() ? line + "\n" : meminfo_line(figure->first, figure->second());
  }
  return text;
}

std::string swaps(const std::string& host_meminfo, const MemoryFigures& ct) {
  std::string text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
  const SwapSize swap = swap_of(host_meminfo, ct);
  if (swap.total_kib == 0) return text;
  // The kernel's layout (swap_show): the name in 40 columns, then tab-separated numbers.
  char line[160];
  std::snprintf(line, sizeof line, "%-40s%s\t%" PRIu64 "\t%s%" PRIu64 "\t%s%d\n", "none", "virtual", swap.total_kib,
                swap.total_kib < 10000000 ? "\t" : "", swap.used_kib, swap.used_kib < 10000000 ? "\t" : "", -2);
  return text + line;
}

std::string uptime(const CpuFigures& ct) {
  const double cpus = static_cast<double>(std::max<std::size_t>(ct.cpus.size(), 1));
  const double busy = static_cast<double>(ct.user_usec + ct.system_usec) / 1e6;
  char line[64];
  std::snprintf(line, sizeof line, "%.2f %.2f\n", ct.seconds_up, std::max(0.0, ct.seconds_up * cpus - busy));
  return line;
}

std::string stat(const std::string& host_stat, const CpuFigures& ct, long ticks_per_second) {
  const std::uint64_t cpus = std::max<std::size_t>(ct.cpus.size(), 1);
  const std::uint64_t user = ticks(ct.user_usec, ticks_per_second);
  const std::uint64_t system = ticks(ct.system_usec, ticks_per_second);
  const auto up = static_cast<std::uint64_t>(ct.seconds_up * static_cast<double>(ticks_per_second));
  const std::uint64_t idle = up * cpus > user + system ? up * cpus - user - system : 0;

  // user nice system idle iowait irq softirq steal guest guest_nice
  const auto cpu_line = [](const std::string& name, std::uint64_t u, std::uint64_t s, std::uint64_t i) {
    return name + " " + std::to_string(u) + " 0 " + std::to_string(s) + " " + std::to_string(i) + " 0 0 0 0 0 0\n";
  };
  std::string text;
  bool cpu_lines_written = false;
  std::istringstream lines(host_stat);
  for (std::string line; std::getline(lines, line);) {
    if (!is_cpu_line(line)) {
      text += line + "\n";
      continue;
    }
    if (cpu_lines_written) continue;
    cpu_lines_written = true;
    text += cpu_line("cpu ", user, system, idle);
    for (std::uint64_t cpu = 0; cpu < cpus; ++cpu)
      text += cpu_line("cpu" + std::to_string(cpu), user / cpus, system / cpus, idle / cpus);
  }
  return text;
}

namespace {

// kernel/sched/loadavg.c's fixed point and decay factors: 1/exp(5s/1min) and so on, in
// 11 bits.
constexpr unsigned kFixedShift = 11;
constexpr std::uint64_t kFixedOne = std::uint64_t{1} << kFixedShift;
constexpr std::array<std::uint64_t, 3> kDecay = {1884, 2014, 2037};

std::uint64_t decayed(std::uint64_t load, std::uint64_t decay, std::uint64_t active) {
  std::uint64_t next = load * decay + active * (kFixedOne - decay);
  if (active >= load) next += kFixedOne - 1;  // the kernel rounds a rising load up
  return next / kFixedOne;
}

}  // namespace

void LoadAverage::sample(unsigned active) {
  for (std::size_t period = 0; period < averages_.size(); ++period)
    averages_[period] = decayed(averages_[period], kDecay[period], active * kFixedOne);
}

std::string loadavg(const LoadAverage& load, unsigned running, unsigned tasks, long last_pid) {
  std::string text;
  for (const std::uint64_t average : load.fixed_point()) {
    const std::uint64_t rounded = average + kFixedOne / 200;  // as the kernel prints it
    char figure[32];
    std::snprintf(figure, sizeof figure, "%" PRIu64 ".%02" PRIu64 " ", rounded >> kFixedShift,
                  ((rounded & (kFixedOne - 1)) * 100) >> kFixedShift);
    text += figure;
  }
  return text + std::to_string(running) + "/" + std::to_string(tasks) + " " + std::to_string(last_pid) + "\n";
}

IoFigures parse_io_stat(const std::string& io_stat) {
  IoFigures figures;
  std::istringstream lines(io_stat);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string device;
    words >> device;
    unsigned major = 0, minor = 0;
    if (std::sscanf(device.c_str(), "%u:%u", &major, &minor) != 2) continue;
    IoCounts& counts = figures[{major, minor}];
    for (std::string pair; words >> pair;) {
      const auto equals = pair.find('=');
      if (equals == std::string::npos) continue;
      const std::string key = pair.substr(0, equals);
      const std::uint64_t value = std::strtoull(pair.c_str() + equals + 1, nullptr, 10);
      if (key == "rbytes") counts.rbytes = value;
      if (key == "wbytes") counts.wbytes = value;
      if (key == "rios") counts.rios = value;
      if (key == "wios") counts.wios = value;
      if (key == "dbytes") counts.dbytes = value;
      if (key == "dios") counts.dios = value;
    }
  }
  return figures;
}

std::string diskstats(const std::string& host_diskstats, const IoFigures& ct) {
  constexpr std::uint64_t kSector = 512;
  std::string text;
  std::istringstream lines(host_diskstats);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    unsigned major = 0, minor = 0;
    std::string name;
    if (!(words >> major >> minor >> name)) continue;
    const auto device = ct.find({major, minor});
    // A line of zeros is a device the CT's cgroup was only configured for (a weight or an
    // io.max line makes the kernel list it), not one it did I/O on.
    if (device == ct.end() || device->second.rios + device->second.wios + device->second.dios == 0) continue;
    std::size_t fields = 0;
    for (std::string word; words >> word;) ++fields;
    const IoCounts& io = device->second;
    // The kernel's fields, in order: reads, merged, sectors, ms; writes, merged, sectors,
    // ms; in flight, io ms, weighted ms; discards, merged, sectors, ms; flushes, ms.
    const std::uint64_t values[] = {io.rios, 0, io.rbytes / kSector, 0, io.wios, 0, io.wbytes / kSector, 0, 0, 0, 0,
                                    io.dios, 0, io.dbytes / kSector, 0, 0,       0};
    char head[64];
    std::snprintf(head, sizeof head, "%4u %7u %s", major, minor, name.c_str());
    text += head;
    for (std::size_t field = 0; field < fields; ++field)
      text += " " + std::to_string(field < std::size(values) ? values[field] : 0);
    text += "\n";
  }
  return text;
}

struct sysinfo sysinfo_of(const std::string& ct_meminfo, double seconds_up, const LoadAverage& load, unsigned tasks) {
  // The kernel shifts its load averages (FSHIFT bits of fraction) to SI_LOAD_SHIFT bits.
  constexpr unsigned kFixedPointBits = 11, kSysinfoLoadBits = 16;
  struct sysinfo info {};
  info.uptime = static_cast<long>(seconds_up);
  for (std::size_t i = 0; i < 3; ++i) info.loads[i] = load.fixed_point()[i] << (kSysinfoLoadBits - kFixedPointBits);
  auto bytes = [&](const char* key) { return meminfo_value(ct_meminfo, key) * kKiB; };
  info.totalram = bytes("MemTotal");
  info.freeram = bytes("MemFree");
  info.sharedram = bytes("Shmem");
  info.bufferram = bytes("Buffers");
  info.totalswap = bytes("SwapTotal");
  info.freeswap = bytes("SwapFree");
  info.procs = static_cast<unsigned short>(std::min(tasks, 65535U));
  info.mem_unit = 1;
  return info;
}

std::string cpu_online(const std::vector<unsigned>& cpus) {
  const std::set<unsigned> sorted(cpus.begin(), cpus.end());
  std::string list;
  for (auto first = sorted.begin(); first != sorted.end();) {
    auto last = first;
    while (std::next(last) != sorted.end() && *std::next(last) == *last + 1) ++last;
    list += (list.empty() ? "" : ",") + std::to_string(*first);
    if (last != first) list += "-" + std::to_string(*last);
    first = std::next(last);
  }
  return list + "\n";
}

std::string cpuinfo(const std::string& host_cpuinfo, const std::vector<unsigned>& cpus) {
  if (cpus.empty()) return host_cpuinfo;
  const std::set<unsigned> wanted(cpus.begin(), cpus.end());
  std::string text;
  unsigned next = 0;
  for (std::size_t at = 0; at < host_cpuinfo.size();) {
    // An entry and the blank line after it.
    const auto blank = host_cpuinfo.find("\n\n", at);
    const auto end = blank == std::string::npos ? host_cpuinfo.size() : blank + 2;
    std::string entry = host_cpuinfo.substr(at, end - at);
    at = end;
    const auto number = processor_number(entry);
    if (!number) {
      text += entry;  // not a CPU's entry (a header some architectures print)
      continue;
    }
    if (!wanted.contains(number->second)) continue;
    const auto line_end = entry.find('\n', number->first);
    entry.replace(number->first, line_end - number->first, " " + std::to_string(next++));
    text += entry;
  }
  return text;
}

}  // namespace ubc::proc_files
