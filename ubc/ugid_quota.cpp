#include "ubc/ugid_quota.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <charconv>
#include <fstream>
#include <stdexcept>

#include "loader/id_quota.h"
#include "loader/mountinfo.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

fs::path running_ugid_limit_file(const std::string& ctid) {
  return run_dir() / (ctid + ".quotaugidlimit");
}

}  // namespace

std::uint64_t parse_quotaugidlimit(const std::string& text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument("--quotaugidlimit: '" + text + "' is not a whole number");
  return value;
}

std::uint64_t quotaugidlimit_from(const CtConfig& config) {
  return config.parsed("QUOTAUGIDLIMIT", [](const std::string& value) { return parse_quotaugidlimit(value); })
      .value_or(0);
}

void write_running_ugid_limit(const std::string& ctid, std::uint64_t limit) {
  const fs::path file = running_ugid_limit_file(ctid);
  const fs::path next = file.string() + ".new";
  {
    std::ofstream out(next);
    out << limit << "\n";
    if (!out.flush()) throw std::runtime_error("writing " + next.string() + " failed");
  }
  fs::rename(next, file);  // whole, for a reader at any moment
}

std::uint64_t running_ugid_limit(const std::string& ctid) {
  std::ifstream in(running_ugid_limit_file(ctid));
  std::string text;
  if (!(in >> text)) return 0;
  try {
    return parse_quotaugidlimit(text);
  } catch (const std::invalid_argument&) {
    return 0;
  }
}

void remove_running_ugid_limit(const std::string& ctid) {
  std::error_code ignored;
  fs::remove(running_ugid_limit_file(ctid), ignored);
}

void require_ugid_quota(const CtSettings& ct, const CtConfig& config) {
  if (!ct.user_namespace || !config.get("USERNS_IDMAP"))
    throw std::runtime_error(
        "--quotaugidlimit needs a CT with a user namespace and ids of its own (--userns yes): without, its users are "
        "the host's or other CTs' and so would be their quotas");
  if (ct.root.empty()) throw std::runtime_error("the CT has no files (VE_ROOT) to hold a disk quota");
  if (!quota::id_quotas_enforced(ct.root))
    throw std::runtime_error("the filesystem of " + ct.root.string() +
                             " does not enforce user and group quotas; --quotaugidlimit needs ext4 made with "
                             "`mkfs.ext4 -O quota` and mounted with -o usrquota,grpquota, or XFS mounted with "
                             "-o uquota,gquota (docs/DISK.md)");
}

std::optional<ns::DeviceNode> quota_device_node(const fs::path& root) {
  struct stat files {};
  if (::stat(root.c_str(), &files)) return std::nullopt;
  for (const auto& mount : read_mountinfo()) {
    if (::makedev(mount.major, mount.minor) != files.st_dev || !mount.source.starts_with("/dev/")) continue;
    struct stat node {};
    if (::stat(mount.source.c_str(), &node) || !S_ISBLK(node.st_mode) || node.st_rdev != files.st_dev) continue;
    // Bound read-only and never granted: the CT sees it and cannot open it.
    return ns::DeviceNode{mount.source.substr(5), false, false};
  }
  return std::nullopt;
}

}  // namespace ubc
