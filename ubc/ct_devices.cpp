#include "ubc/ct_devices.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "loader/error.h"

namespace ubc {

namespace {

// Linux's pty numbers (Documentation/admin-guide/devices.txt): /dev/ptmx is 5:2, and the
// Unix98 pty slaves (/dev/pts/N) take majors 136 to 143.
constexpr std::uint32_t kTtyMajor = 5, kPtmxMinor = 2;
constexpr std::uint32_t kPtySlaveFirstMajor = 136, kPtySlaveLastMajor = 143;

Engine::DeviceRule rule_for(const std::filesystem::path& dev, const ns::DeviceNode& node) {
  const std::filesystem::path path = dev / node.name;
  struct stat info {};
  // lstat: a symlink (/dev/stdin, /dev/fd) names whatever the opener has, not a device.
  if (::lstat(path.c_str(), &info)) throw_system_error("lstat(" + path.string() + ") for a CT's device node");
  if (!S_ISCHR(info.st_mode) && !S_ISBLK(info.st_mode))
    throw std::runtime_error(path.string() + " is not a device node");
  const std::uint32_t access = (node.readable ? UBC_DEVICE_READ : 0) | (node.writable ? UBC_DEVICE_WRITE : 0);
  return {S_ISCHR(info.st_mode) ? std::uint32_t{UBC_DEVICE_CHAR} : std::uint32_t{UBC_DEVICE_BLOCK},
          ::major(info.st_rdev), ::minor(info.st_rdev), access};
}

}  // namespace

std::vector<Engine::DeviceRule> device_rules(const std::vector<ns::DeviceNode>& granted,
                                             const std::filesystem::path& dev) {
  constexpr std::uint32_t read_write = UBC_DEVICE_READ | UBC_DEVICE_WRITE;
  std::vector<Engine::DeviceRule> rules;
  for (const auto& node : ns::standard_device_nodes()) rules.push_back(rule_for(dev, node));
  rules.push_back({UBC_DEVICE_CHAR, kTtyMajor, kPtmxMinor, read_write});
  for (std::uint32_t major = kPtySlaveFirstMajor; major <= kPtySlaveLastMajor; ++major)
    rules.push_back({UBC_DEVICE_CHAR, major, UBC_DEVICE_ANY_MINOR, read_write});
  // A granted node replaces a standard one's access (as the last rule for a key wins).
  for (const auto& node : granted) rules.push_back(rule_for(dev, node));
  return rules;
}

}  // namespace ubc
