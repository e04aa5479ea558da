// Refusal events: every refused charge reaches user space with CT, resource, pid and comm.
#include <doctest/doctest.h>

#include <cerrno>
#include <vector>

#include "loader/refusal_events.h"
#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::Workload;

TEST_SUITE("events") {
  TEST_CASE("each refusal is one event naming the CT, the resource, the process and its comm") {
    ScopedCt ct("ev-refuse");
    std::vector<ubc_refusal_event> seen;
    ubc::RefusalEventReader reader(ubc::test::host().paths().pin_dir, [&](const ubc_refusal_event& event) {
      if (event.cgroup_id == ct.cgroup_id()) seen.push_back(event);
    });
    while (reader.poll(std::chrono::milliseconds(0)) > 0) {
    }  // drop what earlier tests left
    seen.clear();

    Workload workload(ct);
    const std::uint64_t held = ct.numfile().held;
    ct.set_numfile(held + 3, held + 3);
    CHECK(workload.ask("open 0").at(1) == ENFILE);
    CHECK(workload.ask("open 1").at(1) == ENFILE);
    ct.set(UBC_NUMPTY, 0, 0);
    ct.set_numfile(UBC_UNLIMITED, UBC_UNLIMITED);
    CHECK(workload.ask("pty 1").at(1) == ENOMEM);

    for (int i = 0; i < 50 && seen.size() < 3; ++i) reader.poll(std::chrono::milliseconds(100));
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].resource == UBC_NUMFILE);
    CHECK(seen[0].held == held + 3);
    CHECK(seen[0].threshold == held + 3);
    CHECK(seen[0].amount == 1);
    CHECK(seen[1].resource == UBC_NUMFILE);
    CHECK(seen[2].resource == UBC_NUMPTY);
    CHECK(seen[2].threshold == 0);
    for (const auto& event : seen) {
      CHECK(event.tgid == static_cast<std::uint32_t>(workload.pid()));
      CHECK(std::string(event.comm) == "ubc-test-worklo");  // the kernel keeps 15 characters
    }
    CHECK(seen[0].timestamp_ns <= seen[1].timestamp_ns);
    CHECK(ct.counter(UBC_NUMFILE).failcnt + ct.counter(UBC_NUMPTY).failcnt == seen.size());
  }
}
