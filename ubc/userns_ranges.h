// Which host uids and gids each CT's user namespace maps to. Every new CT gets a range of
// its own (no two CTs share one, so a CT's root can never act on another CT's files), kept
// in its config as USERNS_IDMAP. Ranges are 65536 ids, laid out from host id 100000.
#pragma once

#include <filesystem>

#include "loader/namespaces.h"

namespace ubc {

// The first range is the one UserMapping's defaults name (the shared range before per-CT ranges).
inline constexpr unsigned kUserRangeBase = ns::UserMapping{}.host_first;
inline constexpr unsigned kUserRangeSize = ns::UserMapping{}.count;

// The lowest free range given the configs in `config_dir` (the CTs that exist, every
// user-namespaced one counted by its USERNS_IDMAP, or the old shared range 100000 without
// one). Throws when the 32-bit id space is full or a config cannot be read. Hold a
// ConfigLock (ubc/ct_config.h) until the range is saved: two creates never pick the same.
ns::UserMapping free_user_range(const std::filesystem::path& config_dir);

// Whether no CT configured in `config_dir` maps any id of `range` (a CT migrating in keeps
// its range when it can: a restored CT must, its processes' ids are the checkpoint's).
bool user_range_free(const std::filesystem::path& config_dir, const ns::UserMapping& range);

}  // namespace ubc
