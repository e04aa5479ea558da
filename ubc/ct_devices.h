// A CT's device grants (DEVNODES, `set --devices`) as the engine's device rules: the standard
// nodes of every CT's /dev, its own devpts (ptmx and the pty slaves), and the granted host
// nodes with their access. Numbers come from the host's /dev nodes.
#pragma once

#include <filesystem>
#include <vector>

#include "loader/engine.h"
#include "loader/namespaces.h"

namespace ubc {

// Throws when a granted node is missing from `dev` or is not a device.
std::vector<Engine::DeviceRule> device_rules(const std::vector<ns::DeviceNode>& granted,
                                             const std::filesystem::path& dev = "/dev");

}  // namespace ubc
