// The CT a refusal event names: events carry the CT's cgroup id, and finding the CT of an
// id means a scan of every CT, so names are cached, and an id no CT has (a cgroup gone, or
// not registered yet) is asked again at most once per interval. Used by ubcd's refusal log
// and `ubcctl events`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "maps/ubc_maps.h"

namespace ubc {

class CtNames {
 public:
  using Clock = std::chrono::steady_clock;
  using Finder = std::function<std::optional<std::string>(std::uint64_t cgroup_id)>;

  explicit CtNames(Finder find_ctid, Clock::duration retry_interval = std::chrono::seconds(1));

  // The CT's id, or "cgroup:<id>" while no CT has that cgroup.
  std::string name(std::uint64_t cgroup_id, Clock::time_point now = Clock::now());

 private:
  Finder find_ctid_;
  Clock::duration retry_interval_;
  std::map<std::uint64_t, std::string> known_;
  std::map<std::uint64_t, Clock::time_point> unknown_since_;
};

// A refused event's row by name (its number, should a newer engine report a row this
// build does not know), and the command that was refused.
std::string refused_resource_name(const ubc_refusal_event& event);
std::string refused_comm(const ubc_refusal_event& event);

}  // namespace ubc
