#include "sched/cpu_policy.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace ubc::sched {

namespace {

std::uint32_t parse_number(const std::string& text, const char* what) {
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty())
    throw std::invalid_argument(std::string(what) + ": '" + text + "' is not a whole number");
  return value;
}

}  // namespace

std::vector<unsigned> expand_cpu_list(const std::string& list) {
  std::vector<unsigned> cpus;
  std::istringstream in(list);
  for (std::string range; std::getline(in, range, ',');) {
    while (!range.empty() && std::isspace(static_cast<unsigned char>(range.back()))) range.pop_back();
    if (range.empty()) continue;
    const auto dash = range.find('-');
    const unsigned first = parse_number(range.substr(0, dash), "cpu list");
    const unsigned last = dash == std::string::npos ? first : parse_number(range.substr(dash + 1), "cpu list");
    for (unsigned cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
  }
  return cpus;
}

std::uint32_t parse_cpuunits(const std::string& text) {
  const std::uint32_t units = parse_number(text, "--cpuunits");
  if (units < kMinCpuUnits || units > kMaxCpuUnits)
    throw std::invalid_argument("--cpuunits " + text + " is outside OpenVZ's range " + std::to_string(kMinCpuUnits) +
                                ".." + std::to_string(kMaxCpuUnits));
  return units;
}

std::uint32_t parse_cpulimit(const std::string& text, unsigned host_cpus) {
  if (!text.empty() && text.back() == '%') {
    const std::uint32_t of_host = parse_number(text.substr(0, text.size() - 1), "--cpulimit");
    if (of_host > 100) throw std::invalid_argument("--cpulimit " + text + ": more than the whole host");
    return of_host * host_cpus;
  }
  const std::uint32_t percent = parse_number(text, "--cpulimit");
  if (percent > 100 * host_cpus)
    throw std::invalid_argument("--cpulimit " + text + " is more than this host's " + std::to_string(host_cpus) +
                                " CPUs (" + std::to_string(100 * host_cpus) + ")");
  return percent;
}

std::uint32_t parse_cpus(const std::string& text, unsigned host_cpus) {
  const std::uint32_t cpus = parse_number(text, "--cpus");
  if (cpus > host_cpus)
    throw std::invalid_argument("--cpus " + text + ": this host has " + std::to_string(host_cpus) + " CPUs");
  return cpus;
}

std::uint32_t cpu_weight(std::uint32_t cpuunits) {
  const std::uint64_t scaled = (static_cast<std::uint64_t>(cpuunits) * 100 + kDefaultCpuUnits / 2) / kDefaultCpuUnits;
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(scaled, 1, 10000));
}

std::string cpu_max(std::uint32_t cpulimit, std::uint32_t cpus) {
  std::uint32_t percent = cpulimit;
  if (cpus && (percent == 0 || percent > cpus * 100)) percent = cpus * 100;
  const std::string period = std::to_string(kCpuMaxPeriodUs);
  if (percent == 0) return "max " + period;
  return std::to_string(static_cast<std::uint64_t>(percent) * kCpuMaxPeriodUs / 100) + " " + period;
}

std::string cpuset_cpus(std::uint32_t cpus, const std::string& online) {
  const auto all = expand_cpu_list(online);
  if (cpus == 0 || cpus >= all.size()) {
    std::string trimmed = online;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.pop_back();
    return trimmed;
  }
  std::string list;
  for (std::uint32_t i = 0; i < cpus; ++i) list += (i ? "," : "") + std::to_string(all[i]);
  return list;
}

}  // namespace ubc::sched
