#include "ubc/io_settings.h"

#include <algorithm>
#include <stdexcept>

#include "sched/io_cgroup.h"

namespace ubc {

sched::IoSettings io_settings_from(const CtConfig& config) {
  sched::IoSettings settings;
  settings.ioprio = config.parsed("IOPRIO", [](const std::string& v) { return sched::parse_ioprio(v); });
  settings.iolimit = config.parsed("IOLIMIT", [](const std::string& v) { return sched::parse_iolimit(v, 1); });
  settings.iopslimit = config.parsed("IOPSLIMIT", [](const std::string& v) { return sched::parse_iopslimit(v); });
  return settings;
}

void store_io_settings(CtConfig& config, const sched::IoSettings& settings) {
  if (settings.ioprio) config.set("IOPRIO", std::to_string(*settings.ioprio));
  if (settings.iolimit) config.set("IOLIMIT", std::to_string(*settings.iolimit));
  if (settings.iopslimit) config.set("IOPSLIMIT", std::to_string(*settings.iopslimit));
}

std::vector<sched::BlockDevice> ct_block_devices(const CtSettings& ct) {
  std::vector<sched::BlockDevice> devices;
  auto add = [&](const std::optional<sched::BlockDevice>& device) {
    if (device && std::find(devices.begin(), devices.end(), *device) == devices.end()) devices.push_back(*device);
  };
  if (!ct.root.empty()) add(sched::disk_holding(ct.root));
  for (const auto& node : ct.devices) add(sched::disk_of_node(std::filesystem::path("/dev") / node.name));
  return devices;
}

void apply_ct_io_policy(const std::filesystem::path& cgroup, const sched::IoSettings& settings, const CtSettings& ct) {
  if (!std::filesystem::exists(cgroup / "io.max")) {
    if (!settings.empty()) sched::apply_io_settings(cgroup, settings, {});  // says why it cannot
    return;
  }
  const std::uint64_t iolimit = settings.iolimit.value_or(0), iopslimit = settings.iopslimit.value_or(0);
  // Without limits no device gets a line (each line makes the kernel list the device in the
  // CT's io.stat, and so in its /proc/diskstats); lines a previous run left are lifted.
  const auto devices = iolimit || iopslimit ? ct_block_devices(ct) : std::vector<sched::BlockDevice>{};
  sched::clear_io_limits_except(cgroup, devices);
  sched::apply_io_settings(cgroup, {settings.ioprio.value_or(sched::kDefaultIoPrio), iolimit, iopslimit}, devices);
}

}  // namespace ubc
