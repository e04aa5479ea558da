// 32 threads racing at the barrier never push any count resource past it: held and maxheld
// stop exactly at the barrier, and every refused attempt is one failcnt.
#include <doctest/doctest.h>

#include <string>

#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;
using ubc::test::Workload;

namespace {
struct RaceCase {
  const char* kind;
  ubc_resource resource;
};

void race_at_barrier(const RaceCase& race) {
  CAPTURE(race.kind);
  ScopedCt ct(std::string("race-") + race.kind);
  Workload workload(ct);
  constexpr std::uint64_t kBarrier = 60;
  const std::uint64_t start = ct.counter(race.resource).held;
  ct.set(race.resource, start + kBarrier, start + kBarrier);
  const auto reply = workload.ask(std::string("racekind 32 ") + race.kind);
  const ubc_counter counter = ct.counter(race.resource);
  CHECK(reply.at(0) == static_cast<long>(kBarrier));
  CHECK(counter.held == start + kBarrier);
  CHECK(counter.maxheld == start + kBarrier);
  CHECK(counter.failcnt == static_cast<std::uint64_t>(reply.at(1)));
  CHECK(reply.at(1) == 32);  // each thread stops at its first refusal
  workload.ask("shmrm");     // SysV segments outlive the process
  CHECK(workload.finish() == 0);
  CHECK(wait_for_held(ct, race.resource, 0) == 0);
}
}  // namespace

TEST_SUITE("races") {
  TEST_CASE("numpty: 32 threads at the barrier") {
    race_at_barrier({"pty", UBC_NUMPTY});
  }
  TEST_CASE("numflock: 32 threads at the barrier") {
    race_at_barrier({"flock", UBC_NUMFLOCK});
  }
  TEST_CASE("numothersock: 32 threads at the barrier") {
    race_at_barrier({"sock", UBC_NUMOTHERSOCK});
  }
  TEST_CASE("shmpages: 32 threads at the barrier") {
    race_at_barrier({"shm", UBC_SHMPAGES});
  }
  TEST_CASE("numsiginfo: 32 threads at the barrier") {
    race_at_barrier({"sig", UBC_NUMSIGINFO});
  }
}
