#include "cpu_load.h"

#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "../bench/hogs.h"
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
  if (!(seconds > 0)) throw std::invalid_argument("burn: seconds must be positive");
  return std::thread([cgroup = host().cgroup_of(ct.id()), hogs, seconds] {
    try {
      bench::HogRace race;
      for (int hog = 0; hog < hogs; ++hog) race.add({cgroup});
      race.run(std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
    } catch (const std::exception& error) {
      std::fprintf(stderr, "burn: %s\n", error.what());  // the test's measurements then fail
    }
  });
}

int online_cpus() {
  return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
}

}  // namespace ubc::test
