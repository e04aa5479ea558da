// numpty in a real kernel: one case per promise of docs/RESOURCES.md's numpty row.
#include <doctest/doctest.h>
#include <fcntl.h>

#include <cerrno>
#include <vector>

#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;
using ubc::test::Workload;

TEST_SUITE("numpty") {
  TEST_CASE("a CT opens ptys until refused at its limit with ENOMEM; released when the masters close") {
    ScopedCt ct("pty-limit");
    Workload workload(ct);
    CHECK(ct.counter(UBC_NUMPTY).held == 0);
    ct.set(UBC_NUMPTY, 5, 5);
    const auto reply = workload.ask("pty 0");
    CHECK(reply.at(0) == 5);
    CHECK(reply.at(1) == ENOMEM);
    const ubc_counter full = ct.counter(UBC_NUMPTY);
    CHECK(full.held == 5);
    CHECK(full.maxheld == 5);
    CHECK(full.failcnt == 1);

    workload.ask("closeall");
    CHECK(wait_for_held(ct, UBC_NUMPTY, 0) == 0);
    CHECK(workload.ask("pty 0").at(0) == 5);  // room again
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_NUMPTY, 0) == 0);
    CHECK(ct.counter(UBC_NUMPTY).failcnt == 2);
  }

  TEST_CASE("the ptmx node of a devpts instance counts like /dev/ptmx") {
    ScopedCt ct("pty-devpts");
    Workload workload(ct);
    ct.set(UBC_NUMPTY, 2, 2);
    const auto reply = workload.ask("pty 0 /dev/pts/ptmx");
    CHECK(reply.at(0) == 2);
    CHECK(reply.at(1) == ENOMEM);
    CHECK(ct.counter(UBC_NUMPTY).held == 2);
  }

  TEST_CASE("opening other character devices is not a pty") {
    ScopedCt ct("pty-other");
    Workload workload(ct);
    ct.set(UBC_NUMPTY, 0, 0);
    CHECK(workload.ask("open 5").at(0) == 5);
    CHECK(ct.counter(UBC_NUMPTY).held == 0);
    CHECK(ct.counter(UBC_NUMPTY).failcnt == 0);
  }

  TEST_CASE("set on a running CT: lowering below held refuses new ptys and closes none") {
    ScopedCt ct("pty-hotset");
    Workload workload(ct);
    CHECK(workload.ask("pty 4").at(0) == 4);
    ct.set(UBC_NUMPTY, 2, 2);
    const auto reply = workload.ask("pty 1");
    CHECK(reply.at(0) == 0);
    CHECK(reply.at(1) == ENOMEM);
    CHECK(ct.counter(UBC_NUMPTY).held == 4);
    ct.set(UBC_NUMPTY, 6, 6);
    CHECK(workload.ask("pty 0").at(0) == 2);
  }

  TEST_CASE("ptys opened by host processes are never charged") {
    ScopedCt ct("pty-host");
    ct.set(UBC_NUMPTY, 0, 0);
    std::vector<ubc::UniqueFd> masters;
    for (int i = 0; i < 3; ++i) {
      masters.emplace_back(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
      REQUIRE(masters.back());
    }
    CHECK(ct.counter(UBC_NUMPTY).held == 0);
    CHECK(ct.counter(UBC_NUMPTY).failcnt == 0);
  }
}
