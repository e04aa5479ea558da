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
  // What Host::reconcile repaired first (a cgroup another runtime recreated is registered
  // anew, its old slot freed), refused or not.
  std::vector<std::string> repairs;
};

// For every CT the host knows: its beancounter barriers and limits (rows the file sets) and
// its CPU settings, from /etc/ubc/CT.conf. Maps are updated in place: nothing is detached.
// The engine's registry is reconciled with the CTs' cgroups first.
ReloadResult reload_policy(Host& host);

}  // namespace ubc
