#include "ubc/ct_figures.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "loader/cgroup.h"
#include "loader/error.h"
#include "loader/unique_fd.h"
#include "sched/cpu_policy.h"

namespace ubc {

namespace fs = std::filesystem;

namespace {

// A cgroup limit file: a number, or "max" (none). Absent files (no swap accounting) are none.
std::optional<std::uint64_t> limit_of(const fs::path& file) {
  const std::string line = cgroup::first_line(file);
  if (line.empty() || line == "max") return std::nullopt;
  return std::strtoull(line.c_str(), nullptr, 10);
}

std::uint64_t number_of(const fs::path& file) {
  return std::strtoull(cgroup::first_line(file).c_str(), nullptr, 10);
}

// A flat keyed file ("key value" per line: memory.stat, cpu.stat).
std::map<std::string, std::uint64_t> keyed_values(const std::string& text) {
  std::map<std::string, std::uint64_t> values;
  std::istringstream in(text);
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) values[key] = value;
  return values;
}

double seconds_since_boot() {
  timespec now{};
  if (::clock_gettime(CLOCK_BOOTTIME, &now)) throw_system_error("clock_gettime(CLOCK_BOOTTIME)");
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// When `pid` started, in seconds since boot: /proc/PID/stat's 22nd field, in clock ticks.
double started_since_boot(pid_t pid) {
  const std::string stat = cgroup::read_file("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) may hold spaces and parentheses: count from its end.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int number = 3; number < 22; ++number) fields >> field;
  unsigned long long ticks = 0;
  fields >> ticks;
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The state letter of /proc/TID/stat (its third field), or 0 when the thread is gone.
char thread_state(const std::string& tid) {
  const std::string path = "/proc/" + tid + "/stat";
  const UniqueFd stat(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!stat) return 0;
  char text[512];
  const ssize_t got = ::read(stat.get(), text, sizeof text - 1);
  if (got <= 0) return 0;
  const std::string_view fields(text, static_cast<std::size_t>(got));
  const auto name_end = fields.rfind(')');  // the command name may hold ')' itself
  return name_end == std::string_view::npos || name_end + 2 >= fields.size() ? 0 : fields[name_end + 2];
}

void count_threads(const fs::path& cgroup, TaskStates& states) {
  std::ifstream threads(cgroup / "cgroup.threads");
  for (std::string tid; threads >> tid;) {
    const char state = thread_state(tid);
    if (state == 0) continue;
    ++states.total;
    if (state == 'R') ++states.running;
    if (state == 'D') ++states.uninterruptible;
  }
}

}  // namespace

TaskStates read_task_states(const fs::path& cgroup) {
  TaskStates states;
  count_threads(cgroup, states);
  std::error_code error;
  for (fs::recursive_directory_iterator below(cgroup, error), end; !error && below != end; below.increment(error))
    if (below->is_directory(error)) count_threads(below->path(), states);
  return states;
}

proc_files::MemoryFigures read_memory_figures(const fs::path& cgroup) {
  proc_files::MemoryFigures figures;
  figures.stat = keyed_values(cgroup::read_file(cgroup / "memory.stat"));
  figures.limit = limit_of(cgroup / "memory.max");
  figures.usage = number_of(cgroup / "memory.current");
  figures.swap_limit = limit_of(cgroup / "memory.swap.max");
  figures.swap_usage = number_of(cgroup / "memory.swap.current");
  return figures;
}

proc_files::CpuFigures read_cpu_figures(const fs::path& cgroup, pid_t init) {
  proc_files::CpuFigures figures;
  const auto usage = keyed_values(cgroup::read_file(cgroup / "cpu.stat"));
  if (const auto user = usage.find("user_usec"); user != usage.end()) figures.user_usec = user->second;
  if (const auto system = usage.find("system_usec"); system != usage.end()) figures.system_usec = system->second;
  std::string cpus = cgroup::first_line(cgroup / "cpuset.cpus.effective");
  if (cpus.empty()) cpus = cgroup::first_line("/sys/devices/system/cpu/online");
  figures.cpus = sched::expand_cpu_list(cpus);
  figures.seconds_up = std::max(0.0, seconds_since_boot() - started_since_boot(init));
  return figures;
}

}  // namespace ubc
