// A CT's disk quota, first level (vzctl's DISKSPACE, DISKINODES, QUOTATIME): a project
// quota of the filesystem its private area (VE_ROOT) is on, one project per CT, so that the
// kernel refuses what would pass the hard limit (EDQUOT) and `df` in the CT shows its own
// size. loader/project_quota.h has the kernel calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "loader/project_quota.h"
#include "ubc/ct_config.h"
#include "ubc/ct_settings.h"

namespace ubc {

struct SoftHard {
  std::uint64_t soft = 0, hard = 0;  // 0: none
  friend bool operator==(const SoftHard&, const SoftHard&) = default;
};

struct DiskQuotaSettings {
  std::optional<SoftHard> diskspace;       // DISKSPACE: 1 KiB blocks
  std::optional<SoftHard> diskinodes;      // DISKINODES: inodes
  std::optional<std::uint64_t> quotatime;  // QUOTATIME: seconds a soft limit may be passed

  bool empty() const { return !diskspace && !diskinodes && !quotatime; }
};

// vzctl's forms: SOFT[:HARD] (HARD defaults to SOFT; SOFT above HARD is refused); diskspace
// in 1 KiB blocks or with a K, M, G or T suffix; inodes and seconds as plain numbers.
// Throw std::invalid_argument with the reason.
SoftHard parse_diskspace(const std::string& text);
SoftHard parse_diskinodes(const std::string& text);
std::uint64_t parse_quotatime(const std::string& text);
std::string format_soft_hard(const SoftHard& value);

DiskQuotaSettings disk_quota_from(const CtConfig& config);
void store_disk_quota(CtConfig& config, const DiskQuotaSettings& settings);

// The CT's project (QUOTA_PROJECT in its config), if it has one.
std::optional<std::uint32_t> disk_quota_project(const CtConfig& config);
// A project id no CT config in `config_dir` holds. Call with the config lock held.
std::uint32_t free_quota_project(const std::filesystem::path& config_dir);

// The CT's project, allocated and saved in its config (file `config_file`) on first use.
std::uint32_t ensure_quota_project(const std::filesystem::path& config_file);
// Throws, saying what to do, unless the filesystem of the CT's files enforces project quotas.
void require_project_quota(const CtSettings& ct);

// Makes `project` the quota of the CT's files and writes `settings` on it: its tree is
// given to the project once (new files inherit it), then the limits; what `settings`
// leaves out keeps the value the filesystem has. Throws with what to do when the
// filesystem does not enforce project quotas.
void apply_disk_quota(const CtSettings& ct, std::uint32_t project, const DiskQuotaSettings& settings);

// The CT's use and limits, as the filesystem counts them.
quota::ProjectUsage disk_quota_usage(const CtSettings& ct, std::uint32_t project);

}  // namespace ubc
