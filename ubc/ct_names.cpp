#include "ubc/ct_names.h"

#include <cstring>

#include "ubc/resource_table.h"

namespace ubc {

CtNames::CtNames(Finder find_ctid, Clock::duration retry_interval)
    : find_ctid_(std::move(find_ctid)), retry_interval_(retry_interval) {}

std::string CtNames::name(std::uint64_t cgroup_id, Clock::time_point now) {
  if (auto known = known_.find(cgroup_id); known != known_.end()) return known->second;
  auto unknown = unknown_since_.find(cgroup_id);
  if (unknown == unknown_since_.end() || now - unknown->second >= retry_interval_) {
    if (auto ctid = find_ctid_(cgroup_id)) {
      unknown_since_.erase(cgroup_id);
      return known_[cgroup_id] = *ctid;
    }
    unknown_since_[cgroup_id] = now;
  }
  return "cgroup:" + std::to_string(cgroup_id);
}

std::string refused_resource_name(const ubc_refusal_event& event) {
  return event.resource < UBC_RESOURCE_COUNT
             ? std::string(resource_info(static_cast<ubc_resource>(event.resource)).name)
             : std::to_string(event.resource);
}

std::string refused_comm(const ubc_refusal_event& event) {
  return std::string(event.comm, strnlen(event.comm, sizeof event.comm));
}

}  // namespace ubc
