#include "ubc/disk_quota.h"

#include <cctype>
#include <charconv>
#include <limits>
#include <stdexcept>
#include <string_view>

namespace ubc {
namespace fs = std::filesystem;

namespace {

// Project ids ubc hands out start here, above those people number by hand.
constexpr std::uint32_t kFirstQuotaProject = 100000;

std::uint64_t parse_whole(std::string_view text, const std::string& what) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(what + ": '" + std::string(text) + "' is not a whole number");
  return value;
}

std::uint64_t parse_blocks(std::string_view text, const std::string& what) {
  if (text.empty()) throw std::invalid_argument(what + ": empty value");
  const char suffix = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  const auto shift = std::string_view("KMGT").find(suffix);
  if (shift == std::string_view::npos) return parse_whole(text, what);  // 1 KiB blocks
  const std::uint64_t count = parse_whole(text.substr(0, text.size() - 1), what);
  const std::uint64_t blocks_per_unit = 1ULL << (10 * shift);  // K is one block
  if (count > std::numeric_limits<std::uint64_t>::max() / blocks_per_unit)
    throw std::invalid_argument(what + ": '" + std::string(text) + "' is too large");
  return count * blocks_per_unit;
}

template <class Parse>
SoftHard parse_soft_hard(const std::string& text, const std::string& what, Parse parse) {
  const auto colon = text.find(':');
  SoftHard value;
  value.soft = parse(std::string_view(text).substr(0, colon), what);
  value.hard = colon == std::string::npos ? value.soft : parse(std::string_view(text).substr(colon + 1), what);
  if (value.hard != 0 && value.soft > value.hard)
    throw std::invalid_argument(what + " " + text + ": the soft limit is above the hard one");
  return value;
}

}  // namespace

SoftHard parse_diskspace(const std::string& text) {
  return parse_soft_hard(text, "--diskspace", parse_blocks);
}

SoftHard parse_diskinodes(const std::string& text) {
  return parse_soft_hard(text, "--diskinodes", parse_whole);
}

std::uint64_t parse_quotatime(const std::string& text) {
  return parse_whole(text, "--quotatime");
}

std::string format_soft_hard(const SoftHard& value) {
  return std::to_string(value.soft) + ":" + std::to_string(value.hard);
}

DiskQuotaSettings disk_quota_from(const CtConfig& config) {
  DiskQuotaSettings settings;
  // The config keeps plain 1 KiB blocks, as vzctl writes them.
  settings.diskspace =
      config.parsed("DISKSPACE", [](const std::string& v) { return parse_soft_hard(v, "DISKSPACE", parse_whole); });
  settings.diskinodes = config.parsed("DISKINODES", [](const std::string& v) { return parse_diskinodes(v); });
  settings.quotatime = config.parsed("QUOTATIME", [](const std::string& v) { return parse_quotatime(v); });
  return settings;
}

void store_disk_quota(CtConfig& config, const DiskQuotaSettings& settings) {
  if (settings.diskspace) config.set("DISKSPACE", format_soft_hard(*settings.diskspace));
  if (settings.diskinodes) config.set("DISKINODES", format_soft_hard(*settings.diskinodes));
  if (settings.quotatime) config.set("QUOTATIME", std::to_string(*settings.quotatime));
}

std::optional<std::uint32_t> disk_quota_project(const CtConfig& config) {
  const auto value = config.get("QUOTA_PROJECT");
  if (!value || value->empty()) return std::nullopt;
  try {
    const std::uint64_t project = parse_whole(*value, "QUOTA_PROJECT");
    if (project == 0 || project > std::numeric_limits<std::uint32_t>::max())
      throw std::invalid_argument("QUOTA_PROJECT " + *value + " is not a project id");
    return static_cast<std::uint32_t>(project);
  } catch (const std::invalid_argument& error) {
    throw ConfigError(config.file(), config.line_of("QUOTA_PROJECT"), error.what());
  }
}

std::uint32_t free_quota_project(const fs::path& config_dir) {
  std::uint32_t next = kFirstQuotaProject;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(config_dir, error)) {
    if (entry.path().extension() != ".conf") continue;
    if (const auto project = disk_quota_project(CtConfig::load(entry.path())); project && *project >= next)
      next = *project + 1;
  }
  return next;
}

std::uint32_t ensure_quota_project(const fs::path& config_file) {
  const ConfigLock lock(config_file.parent_path());
  CtConfig config = CtConfig::load(config_file);
  if (const auto project = disk_quota_project(config)) return *project;
  const std::uint32_t project = free_quota_project(config_file.parent_path());
  config.set("QUOTA_PROJECT", std::to_string(project));
  config.save(config_file);
  return project;
}

void require_project_quota(const CtSettings& ct) {
  if (ct.root.empty()) throw std::runtime_error("the CT has no files (VE_ROOT) to hold a disk quota");
  if (!quota::project_quota_enforced(ct.root))
    throw std::runtime_error("the filesystem of " + ct.root.string() +
                             " does not enforce project quotas; --diskspace and --diskinodes need ext4 made with "
                             "`mkfs.ext4 -O quota,project` and mounted with -o prjquota, or XFS mounted with "
                             "-o pquota (docs/DISK.md)");
}

void apply_disk_quota(const CtSettings& ct, std::uint32_t project, const DiskQuotaSettings& settings) {
  require_project_quota(ct);
  if (quota::project_of(ct.root) != project) quota::assign_project(ct.root, project);
  quota::ProjectLimits limits = quota::project_usage(ct.root, project).limits;
  if (settings.diskspace) {
    limits.block_soft = settings.diskspace->soft;
    limits.block_hard = settings.diskspace->hard;
  }
  if (settings.diskinodes) {
    limits.inode_soft = settings.diskinodes->soft;
    limits.inode_hard = settings.diskinodes->hard;
  }
  if (settings.diskspace || settings.diskinodes) quota::set_project_limits(ct.root, project, limits);
  if (settings.quotatime) quota::set_project_grace(ct.root, *settings.quotatime);
}

quota::ProjectUsage disk_quota_usage(const CtSettings& ct, std::uint32_t project) {
  return quota::project_usage(ct.root, project);
}

}  // namespace ubc
