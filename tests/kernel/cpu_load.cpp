#include "cpu_load.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
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

namespace {

std::uint64_t cgroup_usage_usec(const std::filesystem::path& cgroup) {
  std::istringstream stat(cgroup::read_file(cgroup / "cpu.stat"));
  std::string key;
  std::uint64_t value = 0;
  while (stat >> key >> value)
    if (key == "usage_usec") return value;
  return 0;
}

}  // namespace

HelperLoad reread_beancounters(const std::string& ctid, double seconds) {
  const std::filesystem::path ct_cgroup = host().cgroup_of(ctid), helpers = host().helper_cgroup_of(ctid);
  if (cgroup::read_file(helpers / "cgroup.procs").empty())
    throw std::runtime_error("CT " + ctid + "'s helpers (ubc-procfs, ubc-console) are not in " + helpers.string());
  const std::uint64_t ct_before = cgroup_usage_usec(ct_cgroup), helpers_before = cgroup_usage_usec(helpers);
  const auto started = std::chrono::steady_clock::now();
  const auto run = ubcctl("exec " + ctid + " -- ubc-escape reread /proc/user_beancounters " + std::to_string(seconds));
  HelperLoad load;
  load.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  load.reads = run.output;
  while (!load.reads.empty() && load.reads.back() == '\n') load.reads.pop_back();
  if (run.status != 0 || load.reads.empty() || load.reads.find_first_not_of("0123456789") != std::string::npos)
    throw std::runtime_error("ubc-escape reread in CT " + ctid + " failed: " + run.output);
  load.ct_share = static_cast<double>(cgroup_usage_usec(ct_cgroup) - ct_before) / 1e6 / load.seconds;
  load.helper_share = static_cast<double>(cgroup_usage_usec(helpers) - helpers_before) / 1e6 / load.seconds;
  return load;
}

}  // namespace ubc::test
