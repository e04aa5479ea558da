#include "ubc/userns_ranges.h"

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "loader/error.h"
#include "ubc/ct_config.h"
#include "ubc/ct_settings.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

std::vector<ns::UserMapping> used_user_ranges(const fs::path& config_dir) {
  std::vector<ns::UserMapping> used;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(config_dir, error)) {
    if (entry.path().extension() != ".conf" || entry.path().filename() == "ubc.conf") continue;
    const CtSettings ct = CtSettings::from(CtConfig::load(entry.path()));
    if (ct.user_namespace) used.push_back(ct.user_mapping);
  }
  if (error && error != std::errc::no_such_file_or_directory)
    throw_system_error("reading " + config_dir.string(), error.value());
  return used;
}

}  // namespace

bool user_range_free(const fs::path& config_dir, const ns::UserMapping& range) {
  const std::uint64_t end = std::uint64_t{range.host_first} + range.count;
  for (const auto& other : used_user_ranges(config_dir))
    if (other.host_first < end && range.host_first < std::uint64_t{other.host_first} + other.count) return false;
  return true;
}

ns::UserMapping free_user_range(const fs::path& config_dir) {
  std::vector<ns::UserMapping> used = used_user_ranges(config_dir);
  std::sort(used.begin(), used.end(), [](const auto& a, const auto& b) { return a.host_first < b.host_first; });
  std::uint64_t candidate = kUserRangeBase;
  for (const auto& range : used) {
    const std::uint64_t range_end = std::uint64_t{range.host_first} + range.count;
    if (candidate + kUserRangeSize <= range.host_first) break;
    // Overlapping or below: the next aligned range past this one.
    if (range_end > candidate)
      candidate = kUserRangeBase + (range_end - kUserRangeBase + kUserRangeSize - 1) / kUserRangeSize * kUserRangeSize;
  }
  if (candidate + kUserRangeSize > (std::uint64_t{1} << 32))
    throw std::runtime_error("no free user id range left for a new CT's user namespace");
  return {static_cast<unsigned>(candidate), kUserRangeSize};
}

}  // namespace ubc
