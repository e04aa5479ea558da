// Opening a path inside a CT's files as the CT would resolve it: `..` and absolute symlinks
// stop at the CT's root, so a tree the CT (or a template) made cannot send the host out of it.
#pragma once

#include <filesystem>
#include <string>

#include "loader/unique_fd.h"

namespace ubc {

// `path` under `root`, resolved as if `root` were "/" (openat2 RESOLVE_IN_ROOT, no magic
// links), opened with `flags`. An invalid fd, errno set, when it cannot be.
UniqueFd open_in_root(const std::filesystem::path& root, const std::string& path, int flags);

}  // namespace ubc
