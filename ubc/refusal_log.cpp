#include "ubc/refusal_log.h"

#include "loader/refusal_events.h"
#include "ubc/resource_table.h"

namespace ubc {

RefusalLog::RefusalLog(CtNames::Finder find_ctid, std::function<void(const std::string&)> write,
                       Clock::duration interval)
    : names_(std::move(find_ctid), interval), write_(std::move(write)), interval_(interval) {}

void RefusalLog::record(const ubc_refusal_event& event, Clock::time_point now) {
  const std::string ct = names_.name(event.cgroup_id, now);
  const std::string resource = refused_resource_name(event);
  KeyState& state = keys_[{ct, resource}];
  if (state.last_written != Clock::time_point{} && now - state.last_written < interval_) {
    ++state.unwritten;
    return;
  }
  std::string line = "refused: ct=" + ct + " resource=" + resource + " pid=" + std::to_string(event.tgid) +
                     " comm=" + refused_comm(event) + " held=" + std::to_string(event.held) +
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
    write_("refused: ct=" + key.first + " resource=" + key.second + ": " + std::to_string(state.unwritten) +
           " more refusals in the last " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - state.last_written).count()) +
           " ms");
    state.last_written = now;
    state.unwritten = 0;
  }
}

}  // namespace ubc
