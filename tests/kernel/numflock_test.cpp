// numflock in a real kernel: one case per promise of docs/RESOURCES.md's numflock row.
#include <doctest/doctest.h>

#include <cerrno>

#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;
using ubc::test::Workload;

TEST_SUITE("numflock") {
  TEST_CASE("flock() locks are refused at the barrier with ENOMEM and released by close") {
    ScopedCt ct("fl-flock");
    Workload workload(ct);
    ct.set(UBC_NUMFLOCK, 5, 5);
    const auto reply = workload.ask("flock 0");
    CHECK(reply.at(0) == 5);
    CHECK(reply.at(1) == ENOMEM);
    const ubc_counter full = ct.counter(UBC_NUMFLOCK);
    CHECK(full.held == 5);
    CHECK(full.maxheld == 5);
    CHECK(full.failcnt == 1);
    workload.ask("closeall");
    CHECK(wait_for_held(ct, UBC_NUMFLOCK, 0) == 0);
  }

  TEST_CASE("fcntl() locks are refused at the barrier with ENOLCK") {
    ScopedCt ct("fl-posix");
    Workload workload(ct);
    ct.set(UBC_NUMFLOCK, 7, 7);
    const auto reply = workload.ask("posix 0");
    CHECK(reply.at(0) == 7);
    CHECK(reply.at(1) == ENOLCK);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 7);
    CHECK(ct.counter(UBC_NUMFLOCK).failcnt == 1);
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_NUMFLOCK, 0) == 0);
  }

  TEST_CASE("held counts lock objects: touching ranges merge, an unlock in the middle splits") {
    ScopedCt ct("fl-shape");
    Workload workload(ct);
    CHECK(workload.ask("lock 0 10").at(0) == 0);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 1);
    CHECK(workload.ask("lock 10 20").at(0) == 0);  // merges with [0, 10)
    CHECK(ct.counter(UBC_NUMFLOCK).held == 1);
    CHECK(workload.ask("lock 30 40").at(0) == 0);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 2);
    CHECK(workload.ask("unlock 5 15").at(0) == 0);  // [0,5) and [15,20) remain, plus [30,40)
    CHECK(ct.counter(UBC_NUMFLOCK).held == 3);
    CHECK(workload.ask("unlock 0 100").at(0) == 0);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 0);
    CHECK(ct.counter(UBC_NUMFLOCK).failcnt == 0);
  }

  TEST_CASE("a refused-at-the-barrier lock leaves no reservation behind") {
    ScopedCt ct("fl-reserve");
    Workload workload(ct);
    ct.set(UBC_NUMFLOCK, 1, 1);
    CHECK(workload.ask("lock 0 10").at(0) == 0);
    CHECK(workload.ask("lock 20 30").at(0) == ENOLCK);
    CHECK(workload.ask("lock 0 10").at(0) == ENOLCK);  // re-locking still asks for one
    CHECK(ct.counter(UBC_NUMFLOCK).held == 1);
    CHECK(workload.ask("unlock 0 10").at(0) == 0);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 0);
    CHECK(workload.ask("lock 20 30").at(0) == 0);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 1);
  }

  TEST_CASE("set on a running CT: lowering below held refuses new locks and drops none") {
    ScopedCt ct("fl-hotset");
    Workload workload(ct);
    CHECK(workload.ask("flock 4").at(0) == 4);
    ct.set(UBC_NUMFLOCK, 2, 2);
    CHECK(workload.ask("flock 1").at(1) == ENOMEM);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 4);
    ct.set(UBC_NUMFLOCK, UBC_UNLIMITED, UBC_UNLIMITED);
    CHECK(workload.ask("flock 1").at(0) == 1);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 5);
  }

  TEST_CASE("an unlock that splits a lock past the barrier is refused with ENOLCK") {
    // Hostile: one lock, then hundreds of one-byte holes, each unlock adding an object.
    ScopedCt ct("fl-split");
    Workload workload(ct);
    ct.set(UBC_NUMFLOCK, 5, 5);
    const auto reply = workload.ask("punch 700");
    const ubc_counter counter = ct.counter(UBC_NUMFLOCK);
    CHECK(reply.at(0) == 4);  // one lock plus four holes make five objects
    CHECK(reply.at(1) == ENOLCK);
    CHECK(reply.at(2) == 5);
    CHECK(counter.held == 5);
    CHECK(counter.maxheld == 5);
    CHECK(counter.failcnt == 1);
    // Unlocks that split nothing still go through at the barrier.
    CHECK(workload.ask("unlock 0 2").at(0) == 0);  // trims the first piece away
    CHECK(workload.ask("locks").at(0) == 4);
    CHECK(ct.counter(UBC_NUMFLOCK).held == 4);
    CHECK(workload.ask("unlock 0 0").at(0) == 0);  // l_len 0: the whole file
    CHECK(wait_for_held(ct, UBC_NUMFLOCK, 0) == 0);
  }

  TEST_CASE("held follows every object of a lock list longer than the settle could walk") {
    ScopedCt ct("fl-longlist");
    Workload workload(ct);
    const auto reply = workload.ask("punch 3000");
    CHECK(reply.at(1) == ENOLCK);  // refused where ubc could no longer follow the list
    CHECK(reply.at(0) > 1000);
    CHECK(ct.counter(UBC_NUMFLOCK).held == static_cast<std::uint64_t>(reply.at(2)));
    CHECK(ct.counter(UBC_NUMFLOCK).failcnt == 1);
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_NUMFLOCK, 0) == 0);
  }
}
