#include "sched/io_cgroup.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <stdexcept>

#include "loader/cgroup.h"

namespace ubc::sched {
namespace fs = std::filesystem;

namespace {

fs::path sysfs_of(const BlockDevice& device) {
  return fs::path("/sys/dev/block") / device.text();
}

std::optional<BlockDevice> parse_dev_file(const fs::path& file) {
  const auto text = cgroup::read_if_exists(file);
  if (!text) return std::nullopt;
  const auto colon = text->find(':');
  if (colon == std::string::npos) return std::nullopt;
  try {
    return BlockDevice{static_cast<unsigned>(std::stoul(text->substr(0, colon))),
                       static_cast<unsigned>(std::stoul(text->substr(colon + 1)))};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool iocost_enabled(const BlockDevice& device) {
  const auto root = cgroup::find_v2_mount();
  if (!root) return false;
  const auto qos = cgroup::read_if_exists(*root / "io.cost.qos");
  if (!qos) return false;
  const std::string prefix = device.text() + " enable=1";
  return qos->starts_with(prefix) || qos->find("\n" + prefix) != std::string::npos;
}

}  // namespace

std::optional<BlockDevice> whole_disk(const BlockDevice& device) {
  const fs::path entry = sysfs_of(device);
  std::error_code error;
  if (!fs::exists(entry, error)) return std::nullopt;
  if (!fs::exists(entry / "partition", error)) return device;
  return parse_dev_file(fs::canonical(entry, error).parent_path() / "dev");
}

std::optional<BlockDevice> disk_holding(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  if (major(info.st_dev) == 0) return std::nullopt;
  return whole_disk({major(info.st_dev), minor(info.st_dev)});
}

std::optional<BlockDevice> disk_of_node(const fs::path& node) {
  struct stat info {};
  if (::stat(node.c_str(), &info) != 0 || !S_ISBLK(info.st_mode)) return std::nullopt;
  return whole_disk({major(info.st_rdev), minor(info.st_rdev)});
}

void apply_io_settings(const fs::path& cgroup, const IoSettings& settings, const std::vector<BlockDevice>& devices) {
  if (settings.empty()) return;
  if (!fs::exists(cgroup / "io.max"))
    throw std::runtime_error("the cgroup v2 io controller is not enabled for " + cgroup.string() +
                             "; ioprio, iolimit and iopslimit need it");
  if (settings.ioprio) {
    const std::string weight = "default " + std::to_string(io_weight(*settings.ioprio));
    for (const char* file : {"io.bfq.weight", "io.weight"})
      if (fs::exists(cgroup / file)) cgroup::write_file(cgroup / file, weight);
  }
  if (settings.iolimit || settings.iopslimit)
    for (const auto& device : devices) cgroup::write_file(cgroup / "io.max", io_max_line(device, settings));
}

void clear_io_limits_except(const fs::path& cgroup, const std::vector<BlockDevice>& devices) {
  const auto text = cgroup::read_if_exists(cgroup / "io.max");
  if (!text) return;
  for (const auto& entry : parse_io_max(*text))
    if (std::find(devices.begin(), devices.end(), entry.device) == devices.end())
      cgroup::write_file(cgroup / "io.max", io_max_cleared(entry.device));
}

IoSettings read_io_settings(const fs::path& cgroup, const std::vector<BlockDevice>& devices) {
  IoSettings settings{kDefaultIoPrio, 0, 0};
  for (const char* file : {"io.bfq.weight", "io.weight"}) {
    const auto text = cgroup::read_if_exists(cgroup / file);
    if (!text) continue;
    if (const auto weight = default_io_weight(*text)) settings.ioprio = ioprio_of_weight(*weight);
    break;
  }
  const auto text = cgroup::read_if_exists(cgroup / "io.max");
  if (!text || devices.empty()) return settings;
  for (const auto& entry : parse_io_max(*text)) {
    if (entry.device != devices.front()) continue;
    settings.iolimit = std::max(entry.rbps, entry.wbps);
    settings.iopslimit = std::max(entry.riops, entry.wiops);
  }
  return settings;
}

DeviceIoPolicy io_policy_of(const BlockDevice& device) {
  DeviceIoPolicy policy{device, "?", "none", ""};
  std::error_code error;
  const fs::path entry = fs::canonical(sysfs_of(device), error);
  if (error) return policy;
  policy.name = entry.filename().string();
  if (const auto schedulers = cgroup::read_if_exists(entry / "queue" / "scheduler")) {
    const auto open = schedulers->find('[');
    const auto close = schedulers->find(']', open);
    if (open != std::string::npos && close != std::string::npos)
      policy.scheduler = schedulers->substr(open + 1, close - open - 1);
  }
  if (policy.scheduler == "bfq")
    policy.weight_file = "io.bfq.weight";
  else if (iocost_enabled(device))
    policy.weight_file = "io.weight";
  return policy;
}

}  // namespace ubc::sched
