#include "ubc/refusal_log.h"

#include <cstring>

#include "loader/refusal_events.h"
#include "ubc/resource_table.h"

namespace ubc {

namespace {

std::string resource_name(std::uint32_t resource) {
  return resource < UBC_RESOURCE_COUNT ? std::string(resource_info(static_cast<ubc_resource>(resource)).name)
                                       : std::to_string(resource);
}

}  // namespace

RefusalLog::RefusalLog(std::function<std::optional<std::string>(std::uint64_t)> find_ctid,
                       std::function<void(const std::string&)> write, Clock::duration interval)
    : find_ctid_(std::move(find_ctid)), write_(std::move(write)), interval_(interval) {}

std::string RefusalLog::ct_name(std::uint64_t cgroup_id, Clock::time_point now) {
  if (auto known = known_.find(cgroup_id); known != known_.end()) return known->second;
  auto unknown = unknown_since_.find(cgroup_id);
  if (unknown == unknown_since_.end() || now - unknown->second >= interval_) {
    if (auto ctid = find_ctid_(cgroup_id)) {
      unknown_since_.erase(cgroup_id);
      return known_[cgroup_id] = *ctid;
    }
    unknown_since_[cgroup_id] = now;
  }
  return "cgroup:" + std::to_string(cgroup_id);
}

void RefusalLog::record(const ubc_refusal_event& event, Clock::time_point now) {
  const std::string ct = ct_name(event.cgroup_id, now);
  KeyState& state = keys_[{ct, event.resource}];
  if (state.last_written != Clock::time_point{} && now - state.last_written < interval_) {
    ++state.unwritten;
    return;
  }
  const std::string comm(event.comm, strnlen(event.comm, sizeof event.comm));
  std::string line = "refused: ct=" + ct + " resource=" + resource_name(event.resource) +
                     " pid=" + std::to_string(event.tgid) + " comm=" + comm + " held=" + std::to_string(event.held) +
                     " threshold=" + std::to_string(event.threshold);
  if (event.reason != UBC_REFUSED_THRESHOLD) line += " reason=" + std::string(refusal_reason_name(event.reason));
  if (state.unwritten) line += " (and " + std::to_string(state.unwritten) + " more refusals before this one)";
  write_(line);
  state.last_written = now;
  state.unwritten = 0;
}

void RefusalLog::flush(Clock::time_point now) {
  for (auto& [key, state] : keys_) {
    if (!state.unwritten || now - state.last_written < interval_) continue;
    write_("refused: ct=" + key.first + " resource=" + resource_name(key.second) + ": " +
           std::to_string(state.unwritten) + " more refusals in the last " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - state.last_written).count()) +
           " ms");
    state.last_written = now;
    state.unwritten = 0;
  }
}

}  // namespace ubc
