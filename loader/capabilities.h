// What this host's kernel supports, probed once, for `ubcctl doctor`, the loader and the
// kernel tests (which skip, loudly, on a kernel that cannot run them).
#pragma once

#include <string>
#include <vector>

namespace ubc {

struct Capability {
  std::string name;
  bool available;
  std::string detail;       // what was found
  std::string consequence;  // what ubc does about it when it is missing
  bool required;            // beancounters cannot be enforced without it
};

std::vector<Capability> probe_capabilities();

// The CRIU row of probe_capabilities alone (chkpnt, restore and migrate ask only this).
Capability criu_capability();

// Empty when the beancounter engine can be loaded here, else why not.
std::string engine_unavailable_reason();

}  // namespace ubc
