// OpenVZ's CPU settings of a CT (cpuunits, cpulimit, cpus) and what they become in cgroup v2,
// which the kernel's fair scheduler enforces (and which ubc's sched_ext scheduler, when it
// is loaded, receives through its cgroup callbacks: one policy, two enforcers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ubc::sched {

// OpenVZ's range and default (vzctl(8)).
inline constexpr std::uint32_t kMinCpuUnits = 8;
inline constexpr std::uint32_t kMaxCpuUnits = 500000;
inline constexpr std::uint32_t kDefaultCpuUnits = 1000;
// cpu.max's period: 100 ms, the kernel's default.
inline constexpr std::uint32_t kCpuMaxPeriodUs = 100000;

struct CpuSettings {
  std::optional<std::uint32_t> cpuunits;  // CPUUNITS: relative weight among CTs
  std::optional<std::uint32_t> cpulimit;  // CPULIMIT: percent of one CPU (200 = two CPUs); 0 = none
  std::optional<std::uint32_t> cpus;      // CPUS: how many CPUs at once; 0 = all
};

// Parses vzctl's forms: cpuunits 8..500000; cpulimit N (percent of one CPU) or N% (percent
// of the whole host, converted with `host_cpus`); cpus N (0 = unlimited). Throws
// std::invalid_argument with the reason.
std::uint32_t parse_cpuunits(const std::string& text);
std::uint32_t parse_cpulimit(const std::string& text, unsigned host_cpus);
std::uint32_t parse_cpus(const std::string& text, unsigned host_cpus);

// cpu.weight (1..10000, default 100) for cpuunits: scaled so that OpenVZ's default 1000 is
// the kernel's default 100, ratios kept from 10 to 100000 cpuunits, clamped outside.
std::uint32_t cpu_weight(std::uint32_t cpuunits);
// cpu.max's text: "QUOTA PERIOD" in microseconds, or "max PERIOD". cpus caps the limit at
// cpus x 100, as vzctl's --cpus did.
std::string cpu_max(std::uint32_t cpulimit, std::uint32_t cpus);
// cpuset.cpus for `cpus` CPUs out of the host's online set: its first `cpus`, or all of it.
std::string cpuset_cpus(std::uint32_t cpus, const std::string& online);
// A kernel CPU list ("0-3,6,8-9", as cpuset.cpus and .../cpu/online write it) expanded:
// {0,1,2,3,6,8,9}. Throws std::invalid_argument on anything else.
std::vector<unsigned> expand_cpu_list(const std::string& list);

}  // namespace ubc::sched
