// numproc in a real kernel: one case per promise of docs/RESOURCES.md's numproc row.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "loader/cgroup.h"
#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;
using ubc::test::Workload;

TEST_SUITE("numproc") {
  TEST_CASE("a task that enters a CT is charged to it, and uncharged when it is gone") {
    ScopedCt ct("np-enter");
    {
      Workload workload(ct);
      CHECK(ct.counter(UBC_NUMPROC).held == 1);  // moved in through cgroup.procs
      CHECK(workload.finish() == 0);
    }
    CHECK(wait_for_held(ct, UBC_NUMPROC, 0) == 0);
    CHECK(ct.counter(UBC_NUMPROC).maxheld == 1);
  }

  TEST_CASE("forks are refused at the barrier with ENOMEM; held follows exits") {
    ScopedCt ct("np-fork");
    Workload workload(ct);
    ct.set(UBC_NUMPROC, 6, 6);
    const auto reply = workload.ask("fork 0");
    CHECK(reply.at(0) == 5);  // the workload itself is the sixth
    CHECK(reply.at(1) == ENOMEM);
    const ubc_counter full = ct.counter(UBC_NUMPROC);
    CHECK(full.held == 6);
    CHECK(full.maxheld == 6);
    CHECK(full.failcnt == 1);
    workload.ask("closeall");
    CHECK(wait_for_held(ct, UBC_NUMPROC, 1) == 1);
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_NUMPROC, 0) == 0);
  }

  TEST_CASE("threads count as tasks") {
    ScopedCt ct("np-threads");
    Workload workload(ct);
    ct.set(UBC_NUMPROC, 4, 4);
    const auto reply = workload.ask("threads 0");
    CHECK(reply.at(0) == 3);
    CHECK(reply.at(1) != 0);  // pthread_create reports the refused clone
    CHECK(ct.counter(UBC_NUMPROC).held == 4);
    CHECK(ct.counter(UBC_NUMPROC).failcnt == 1);
    workload.ask("closeall");
    CHECK(wait_for_held(ct, UBC_NUMPROC, 1) == 1);
  }

  TEST_CASE("32 threads forking at the limit never overshoot") {
    ScopedCt ct("np-race");
    Workload workload(ct);
    // The workload, its 32 racing threads, and room for 40 children.
    const std::uint64_t limit = 1 + 32 + 40;
    ct.set(UBC_NUMPROC, limit, limit);
    const auto reply = workload.ask("forkrace 32");
    CHECK(reply.at(0) == 40);
    CHECK(reply.at(1) == 32);  // each thread stops at its first refusal
    const ubc_counter full = ct.counter(UBC_NUMPROC);
    CHECK(full.maxheld == limit);
    CHECK(full.failcnt == 32);
    workload.ask("closeall");
    CHECK(wait_for_held(ct, UBC_NUMPROC, 1) == 1);  // children reaped, racing threads joined
  }

  TEST_CASE("a task leaving the CT is uncharged from it, and one coming back charged again") {
    ScopedCt ct("np-move");
    Workload workload(ct);
    CHECK(ct.counter(UBC_NUMPROC).held == 1);
    const auto root = ubc::test::host().paths().cgroup_root.parent_path();
    ubc::cgroup::write_file(root / "cgroup.procs", std::to_string(workload.pid()));
    CHECK(ct.counter(UBC_NUMPROC).held == 0);
    ubc::cgroup::write_file(ubc::test::host().cgroup_of(ct.id()) / "cgroup.procs", std::to_string(workload.pid()));
    CHECK(ct.counter(UBC_NUMPROC).held == 1);
  }

  TEST_CASE("a process moved whole carries every one of its threads to the new CT") {
    ScopedCt from("np-threads-from"), to("np-threads-to");
    Workload workload(from);
    REQUIRE(workload.ask("threads 5").at(0) == 5);
    CHECK(from.counter(UBC_NUMPROC).held == 6);
    ubc::cgroup::write_file(ubc::test::host().cgroup_of(to.id()) / "cgroup.procs", std::to_string(workload.pid()));
    CHECK(to.counter(UBC_NUMPROC).held == 6);
    CHECK(from.counter(UBC_NUMPROC).held == 0);
    workload.ask("closeall");
    CHECK(wait_for_held(to, UBC_NUMPROC, 1) == 1);
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(to, UBC_NUMPROC, 0) == 0);
  }

  TEST_CASE("moving into a CT at its limit is not refused (forced, as entering a VE was)") {
    ScopedCt ct("np-force");
    ct.set(UBC_NUMPROC, 0, 0);
    Workload workload(ct);
    CHECK(ct.counter(UBC_NUMPROC).held == 1);
    CHECK(ct.counter(UBC_NUMPROC).failcnt == 0);
    const auto reply = workload.ask("fork 1");
    CHECK(reply.at(0) == 0);
    CHECK(reply.at(1) == ENOMEM);
  }

  TEST_CASE("host forks are never charged or refused") {
    ScopedCt ct("np-host");
    ct.set(UBC_NUMPROC, 0, 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(ct.counter(UBC_NUMPROC).held == 0);
    CHECK(ct.counter(UBC_NUMPROC).failcnt == 0);
  }
}
