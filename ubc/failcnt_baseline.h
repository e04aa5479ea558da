// vzubc -r for ubcctl: failcnt as the change since the previous relative reading. OpenVZ
// never reset failcnt (it only grows for a CT's life, and tools and alerts rely on that);
// vzubc kept the last values in a file instead, and so does ubc.
#pragma once

#include <filesystem>
#include <span>

#include "ubc/report.h"

namespace ubc {

// Replaces each row's failcnt by its growth since the baseline in `file` (the whole value
// for a CT or row the baseline has not seen), then stores the current values as the new
// baseline. The file is replaced atomically.
void make_failcnt_relative(std::span<ContainerUsage> containers, const std::filesystem::path& file);

}  // namespace ubc
