// Whether what ubc keeps in three places agrees: the config files, the CTs' cgroups and the
// engine's registry of slots. A command killed at any point (kill -9, power loss) must
// leave nothing broken; what it can leave half-done is repairable, and `ubcctl doctor
// --repair` (or the next reload) repairs it.
#pragma once

#include <string>
#include <vector>

#include "ubc/host.h"

namespace ubc {

struct ConsistencyFinding {
  enum class Kind {
    broken,      // must never be: a config that does not parse, a registry that contradicts itself
    repairable,  // left by a command stopped half-way, or by another runtime; --repair fixes it
  };
  Kind kind;
  std::string subject;  // "CT 101", "slot 7", a file
  std::string problem;
};

// Reads everything, changes nothing.
std::vector<ConsistencyFinding> check_consistency(Host& host);

// Repairs what check_consistency calls repairable: Host::reconcile, then the temporary
// files of saves and the half-unpacked templates of creates that were killed. Returns one
// line per repair.
std::vector<std::string> repair_consistency(Host& host);

}  // namespace ubc
