// Applying the CT config files to the live engine, all or nothing: every file is read and
// checked, and every CT's cgroup found registered, before any limit changes, so a broken
// file leaves the running policy as it was; a limit the kernel refuses half-way puts back
// the ones already changed.
#pragma once

#include <string>
#include <vector>

#include "ubc/host.h"

namespace ubc {

struct ReloadResult {
  bool applied = false;
  std::string error;  // file:line: reason, when refused; when applied, a CPU setting the kernel refused
  int cts = 0;        // CTs whose config was applied
};

// For every CT the host knows: its beancounter barriers and limits (rows the file sets) and
// its CPU settings, from /etc/ubc/CT.conf. Maps are updated in place: nothing is detached.
ReloadResult reload_policy(Host& host);

}  // namespace ubc
