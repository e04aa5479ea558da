// What `ubcctl show` prints: OpenVZ's /proc/user_beancounters text, or JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "maps/ubc_maps.h"
#include "ubc/resource_table.h"

namespace ubc {

struct ResourceUsage {
  const ResourceInfo* resource;
  ubc_counter counter;
};

struct ContainerUsage {
  std::string id;
  std::vector<ResourceUsage> resources;
};

// The exact /proc/user_beancounters format, "Version: 2.5" header included: the CT id and
// a colon on each CT's first row only, every number right-aligned in 20 columns, OpenVZ's
// "dummy" rows after shmpages (one) and numfile (three), swappages left to the JSON.
std::string format_user_beancounters(std::span<const ContainerUsage> containers);

// {"version": "2.5", "containers": [{"ctid": ..., "resources": {"numfile": {"held": ...,
// "maxheld": ..., "barrier": ..., "limit": ..., "failcnt": ...}}}]}, as vzlist -j groups them.
nlohmann::json report_json(std::span<const ContainerUsage> containers);

}  // namespace ubc
