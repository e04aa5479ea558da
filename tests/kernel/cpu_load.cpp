#include "cpu_load.h"

#include <unistd.h>

#include <sstream>
#include <stdexcept>

#include "loader/cgroup.h"

namespace ubc::test {

std::string cgroup_file(const ScopedCt& ct, const char* name) {
  std::string text = ubc::cgroup::read_file(host().cgroup_of(ct.id()) / name);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::uint64_t usage_usec(const ScopedCt& ct) {
  std::istringstream stat(cgroup_file(ct, "cpu.stat"));
  std::string key;
  std::uint64_t value = 0;
  while (stat >> key >> value)
    if (key == "usage_usec") return value;
  return 0;
}

std::thread burn(const ScopedCt& ct, int hogs, double seconds) {
  // timeout(1) reads 0 as "no time limit": a zero here would spin for ever.
  if (!(seconds > 0)) throw std::invalid_argument("burn: seconds must be positive");
  const std::string script = "for i in $(seq " + std::to_string(hogs) + "); do timeout " + std::to_string(seconds) +
                             " bash -c 'while :; do :; done' & done; wait";
  return std::thread([id = ct.id(), script] { host().exec(id, {"bash", "-c", script}); });
}

int online_cpus() {
  return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
}

}  // namespace ubc::test
