// What ubcd writes about refused charges: at most one line a second per CT and resource,
// the refusals in between counted into the next line (or a summary line once the second is
// over), so a CT hammering its limit cannot flood the log. CT names come from CtNames, so a
// refusal costs no scan of every CT.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "maps/ubc_maps.h"
#include "ubc/ct_names.h"

namespace ubc {

class RefusalLog {
 public:
  using Clock = std::chrono::steady_clock;
  // `find_ctid` maps a cgroup id to its CT (see CtNames); `write` takes one finished line.
  RefusalLog(CtNames::Finder find_ctid, std::function<void(const std::string&)> write,
             Clock::duration interval = std::chrono::seconds(1));

  void record(const ubc_refusal_event& event, Clock::time_point now = Clock::now());
  // Writes the summary of every key whose interval has passed with refusals unwritten.
  void flush(Clock::time_point now = Clock::now());

 private:
  struct KeyState {
    Clock::time_point last_written{};
    std::uint64_t unwritten = 0;
  };
  CtNames names_;
  std::function<void(const std::string&)> write_;
  Clock::duration interval_;
  std::map<std::pair<std::string, std::string>, KeyState> keys_;  // (CT, resource)
};

}  // namespace ubc
