#include "ubc/ct_figures.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <string>

#include "loader/error.h"
#include "sched/cpu_policy.h"
#include "ubc/kernel_counters.h"

namespace ubc {

namespace fs = std::filesystem;

namespace {

// A cgroup limit file: a number, or "max" (none). Absent files (no swap accounting) are none.
std::optional<std::uint64_t> limit_of(KernelFile& file) {
  const auto text = file.read();
  if (!text || text->empty() || text->starts_with("max")) return std::nullopt;
  return std::strtoull(text->c_str(), nullptr, 10);
}

std::uint64_t number_of(KernelFile& file) {
  const auto text = file.read();
  return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
}

std::string first_line_of(KernelFile& file) {
  const auto text = file.read();
  return text ? text->substr(0, text->find('\n')) : std::string();
}

double seconds_since_boot() {
  timespec now{};
  if (::clock_gettime(CLOCK_BOOTTIME, &now)) throw_system_error("clock_gettime(CLOCK_BOOTTIME)");
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// When a process started, in seconds since boot: its /proc/PID/stat's 22nd field, in clock
// ticks.
double started_since_boot(KernelFile& process_stat) {
  const std::string stat = process_stat.read_existing();
  // The command name (field 2) may hold spaces and parentheses: count from its end.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int number = 3; number < 22; ++number) fields >> field;
  unsigned long long ticks = 0;
  fields >> ticks;
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

CtFigureReader::CtFigureReader(const fs::path& cgroup, pid_t init)
    : memory_stat_(cgroup / "memory.stat"),
      memory_max_(cgroup / "memory.max"),
      memory_current_(cgroup / "memory.current"),
      swap_max_(cgroup / "memory.swap.max"),
      swap_current_(cgroup / "memory.swap.current"),
      io_stat_(cgroup / "io.stat"),
      cpu_stat_(cgroup / "cpu.stat"),
      cpuset_(cgroup / "cpuset.cpus.effective"),
      host_online_("/sys/devices/system/cpu/online"),
      init_stat_("/proc/" + std::to_string(init) + "/stat") {}

proc_files::MemoryFigures CtFigureReader::memory() {
  proc_files::MemoryFigures figures;
  figures.stat = parse_key_values(memory_stat_.read_existing());
  figures.limit = limit_of(memory_max_);
  figures.usage = number_of(memory_current_);
  figures.swap_limit = limit_of(swap_max_);
  figures.swap_usage = number_of(swap_current_);
  return figures;
}

proc_files::IoFigures CtFigureReader::io() {
  return proc_files::parse_io_stat(io_stat_.read().value_or(""));
}

proc_files::CpuFigures CtFigureReader::cpu() {
  proc_files::CpuFigures figures;
  const auto usage = parse_key_values(cpu_stat_.read_existing());
  if (const auto user = usage.find("user_usec"); user != usage.end()) figures.user_usec = user->second;
  if (const auto system = usage.find("system_usec"); system != usage.end()) figures.system_usec = system->second;
  std::string cpus = first_line_of(cpuset_);
  if (cpus.empty()) cpus = first_line_of(host_online_);
  figures.cpus = sched::expand_cpu_list(cpus);
  figures.seconds_up = std::max(0.0, seconds_since_boot() - started_since_boot(init_stat_));
  return figures;
}

}  // namespace ubc
