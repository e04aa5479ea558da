// The host-wide owner maps (which CT each charged file, socket, lock or segment belongs to):
// one CT cannot fill them, and a map that all CTs together fill refuses with an event that
// names the CT, never silently. The engine is reloaded with its maps divided by 1024 so
// that a few thousand objects fill one.
#include <doctest/doctest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "loader/refusal_events.h"
#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::Workload;

namespace {

constexpr std::uint32_t kDivisor = 1024;
constexpr std::uint64_t kFileShare = UBC_MAX_TRACKED_FILES / kDivisor / UBC_OWNER_MAP_SHARE_DIVISOR;
constexpr std::uint64_t kSegmentShare = UBC_MAX_TRACKED_SHM_SEGMENTS / kDivisor / UBC_OWNER_MAP_SHARE_DIVISOR;

// The engine with small owner maps for one test case, the usual one again after it.
class SmallOwnerMaps {
 public:
  SmallOwnerMaps() {
    ubc::test::host().unload_engine();
    ubc::test::host().load_engine({.owner_map_divisor = kDivisor});
  }
  ~SmallOwnerMaps() {
    ubc::test::host().unload_engine();
    ubc::test::host().load_engine();
  }
  SmallOwnerMaps(const SmallOwnerMaps&) = delete;
  SmallOwnerMaps& operator=(const SmallOwnerMaps&) = delete;
};

// Every refusal event of the engine from now on.
class EventLog {
 public:
  EventLog()
      : reader_(ubc::test::host().paths().pin_dir, [this](const ubc_refusal_event& event) { seen_.push_back(event); }) {
  }
  // The events for `ct`, after waiting up to a second for at least one.
  std::vector<ubc_refusal_event> of(const ScopedCt& ct) {
    std::vector<ubc_refusal_event> found;
    for (int i = 0; i < 10; ++i) {
      while (reader_.poll(std::chrono::milliseconds(100)) > 0) {
      }
      found.clear();
      for (const auto& event : seen_)
        if (event.cgroup_id == ct.cgroup_id()) found.push_back(event);
      if (!found.empty()) break;
    }
    return found;
  }

 private:
  std::vector<ubc_refusal_event> seen_;
  ubc::RefusalEventReader reader_;
};

}  // namespace

TEST_SUITE("owner maps") {
  TEST_CASE("a CT with numfile unlimited stops at its share of the files map") {
    SmallOwnerMaps small;
    ScopedCt ct("om-share");
    EventLog events;
    Workload workload(ct);
    CHECK(workload.ask("open 0").at(1) == ENFILE);
    const ubc_counter counter = ct.numfile();
    CHECK(counter.held == kFileShare);
    CHECK(counter.failcnt == 1);
    const auto seen = events.of(ct);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].resource == UBC_NUMFILE);
    CHECK(seen[0].reason == UBC_REFUSED_SHARE);
    CHECK(seen[0].threshold == kFileShare);
  }

  TEST_CASE("a files map filled by all CTs together refuses the next file with an event naming its CT") {
    SmallOwnerMaps small;
    ScopedCt victim("om-victim");
    Workload victim_workload(victim);  // started while there is room: a process needs files
    EventLog events;
    std::vector<std::unique_ptr<ScopedCt>> fillers;
    std::vector<std::unique_ptr<Workload>> filler_workloads;
    for (int i = 0; i < UBC_OWNER_MAP_SHARE_DIVISOR; ++i) {
      fillers.push_back(std::make_unique<ScopedCt>("om-fill" + std::to_string(i)));
      filler_workloads.push_back(std::make_unique<Workload>(*fillers.back()));
      CHECK(filler_workloads.back()->ask("open 0").at(1) == ENFILE);
    }
    const std::uint64_t held_before = victim.numfile().held;
    CHECK(victim_workload.ask("open 1").at(1) == ENFILE);
    CHECK(victim.numfile().held == held_before);
    CHECK(victim.numfile().failcnt == 1);
    const auto seen = events.of(victim);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].resource == UBC_NUMFILE);
    CHECK(seen[0].reason == UBC_REFUSED_MAP_FULL);
    CHECK(seen[0].tgid == static_cast<std::uint32_t>(victim_workload.pid()));
    // Room again once a filler lets go.
    filler_workloads.front()->ask("closeall");
    CHECK(victim_workload.ask("open 1").at(1) == 0);
  }

  TEST_CASE("SysV segments: a CT with shmpages unlimited stops at its share of the segments map") {
    SmallOwnerMaps small;
    ScopedCt ct("om-shm");
    EventLog events;
    Workload workload(ct);
    const auto reply = workload.ask("shm 0 4096");
    CHECK(reply.at(0) == static_cast<long>(kSegmentShare));
    CHECK(reply.at(1) == ENOMEM);
    CHECK(ct.counter(UBC_SHMPAGES).held == kSegmentShare);  // one page each
    CHECK(ct.counter(UBC_SHMPAGES).failcnt == 1);
    const auto seen = events.of(ct);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].reason == UBC_REFUSED_SHARE);
    CHECK(seen[0].threshold == kSegmentShare);
    // Removed segments give their place back.
    workload.ask("shmrm");
    CHECK(ubc::test::wait_for_held(ct, UBC_SHMPAGES, 0) == 0);
    CHECK(workload.ask("shm 1 4096").at(1) == 0);
    workload.ask("shmrm");
  }
}
