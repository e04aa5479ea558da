// Applying the CT config files to the live engine, all or nothing: every file is read and
// checked before any limit changes, so a broken file leaves the running policy as it was.
#pragma once

#include <string>
#include <vector>

#include "ubc/host.h"

namespace ubc {

struct ReloadResult {
  bool applied = false;
  std::string error;  // file:line: reason, when refused
  int cts = 0;        // CTs whose config was applied
};

// For every CT the host knows: its beancounter barriers and limits (rows the file sets) and
// its CPU settings, from /etc/ubc/CT.conf. Maps are updated in place: nothing is detached.
ReloadResult reload_policy(Host& host);

}  // namespace ubc
