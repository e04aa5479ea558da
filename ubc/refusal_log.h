// What ubcd writes about refused charges: at most one line a second per CT and resource,
// the refusals in between counted into the next line (or a summary line once the second is
// over), so a CT hammering its limit cannot flood the log. CT names come from a cache of
// cgroup ids, so a refusal costs no scan of every CT.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "maps/ubc_maps.h"

namespace ubc {

class RefusalLog {
 public:
  using Clock = std::chrono::steady_clock;
  // `find_ctid` maps a cgroup id to its CT (a full scan, asked at most once a second for an
  // id it did not know); `write` takes one finished line.
  RefusalLog(std::function<std::optional<std::string>(std::uint64_t)> find_ctid,
             std::function<void(const std::string&)> write, Clock::duration interval = std::chrono::seconds(1));

  void record(const ubc_refusal_event& event, Clock::time_point now = Clock::now());
  // Writes the summary of every key whose interval has passed with refusals unwritten.
  void flush(Clock::time_point now = Clock::now());

 private:
  std::string ct_name(std::uint64_t cgroup_id, Clock::time_point now);

  struct KeyState {
    Clock::time_point last_written{};
    std::uint64_t unwritten = 0;
  };
  std::function<std::optional<std::string>(std::uint64_t)> find_ctid_;
  std::function<void(const std::string&)> write_;
  Clock::duration interval_;
  std::map<std::pair<std::string, std::uint32_t>, KeyState> keys_;
  std::map<std::uint64_t, std::string> known_;
  std::map<std::uint64_t, Clock::time_point> unknown_since_;
};

}  // namespace ubc
