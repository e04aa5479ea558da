// A CT's second-level disk quota (vzctl's QUOTAUGIDLIMIT), the host's side of it: the
// setting, its value for the running CT, what the CT must have for it, and the device node
// its quota tools look for. ubc/ct_quota_calls.h serves the CT's quotactl calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "loader/namespaces.h"
#include "ubc/ct_config.h"
#include "ubc/ct_settings.h"

namespace ubc {

// How many of the CT's uids and gids may have quota limits; 0: the second level is off.
// Throws std::invalid_argument with the reason.
std::uint64_t parse_quotaugidlimit(const std::string& text);
// QUOTAUGIDLIMIT in the config; 0 when it has none. Throws ConfigError.
std::uint64_t quotaugidlimit_from(const CtConfig& config);

// The running CT's value, which `set` changes without --save: written at its start, read by
// its call server at each call. 0 when there is none (the CT stopped, or started without).
void write_running_ugid_limit(const std::string& ctid, std::uint64_t limit);
std::uint64_t running_ugid_limit(const std::string& ctid);
void remove_running_ugid_limit(const std::string& ctid);

// Throws, saying what to do, unless the CT can have the second level: a user namespace with
// a range of ids of its own (USERNS_IDMAP; the old shared range is every such CT's), and its
// files on a filesystem that enforces user and group quotas.
void require_ugid_quota(const CtSettings& ct, const CtConfig& config);

// The node of the disk the CT's files are on, named as its mount table names it ("/dev/loop0"
// is "loop0"): quota tools find a filesystem's device there and name it in their calls. None
// for a filesystem on no block device of /dev.
std::optional<ns::DeviceNode> quota_device_node(const std::filesystem::path& root);

}  // namespace ubc
