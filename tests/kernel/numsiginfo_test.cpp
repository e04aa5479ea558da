// numsiginfo (queued signal information) in a real kernel.
#include <doctest/doctest.h>
#include <signal.h>

#include <cerrno>

#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;
using ubc::test::Workload;

TEST_SUITE("numsiginfo") {
  TEST_CASE("queued real-time signals are counted and refused past the barrier with EAGAIN") {
    ScopedCt ct("sig-limit");
    Workload workload(ct);
    const std::uint64_t before = ct.counter(UBC_NUMSIGINFO).held;
    ct.set(UBC_NUMSIGINFO, before + 20, before + 20);
    const auto reply = workload.ask("sigqueue 0");
    CHECK(reply.at(0) == 20);
    CHECK(reply.at(1) == EAGAIN);
    const ubc_counter full = ct.counter(UBC_NUMSIGINFO);
    CHECK(full.held == before + 20);
    CHECK(full.maxheld == before + 20);
    CHECK(full.failcnt == 1);
    CHECK(workload.ask("sigdrain").at(0) == 20);
    CHECK(wait_for_held(ct, UBC_NUMSIGINFO, before) == before);
    ct.set(UBC_NUMSIGINFO, UBC_UNLIMITED, UBC_UNLIMITED);
    CHECK(workload.ask("sigqueue 30").at(0) == 30);
    CHECK(ct.counter(UBC_NUMSIGINFO).held == before + 30);
    CHECK(workload.ask("sigignore").at(0) == 0);  // the kernel drops them: every one uncharged
    CHECK(wait_for_held(ct, UBC_NUMSIGINFO, before) == before);
    CHECK(workload.ask("sigqueue 12").at(0) == 12);
    CHECK(ct.counter(UBC_NUMSIGINFO).held == before + 12);
    CHECK(workload.finish() == 0);  // queued signals die with the process
    CHECK(wait_for_held(ct, UBC_NUMSIGINFO, 0) == 0);
  }

  TEST_CASE("the host's signals are never charged or refused") {
    ScopedCt ct("sig-host");
    ct.set(UBC_NUMSIGINFO, 0, 0);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 1);
    pthread_sigmask(SIG_BLOCK, &rt, nullptr);
    CHECK(::sigqueue(::getpid(), SIGRTMIN + 1, sigval{1}) == 0);
    const timespec no_wait{};
    CHECK(::sigtimedwait(&rt, nullptr, &no_wait) == SIGRTMIN + 1);
    pthread_sigmask(SIG_UNBLOCK, &rt, nullptr);
    CHECK(ct.counter(UBC_NUMSIGINFO).held == 0);
    CHECK(ct.counter(UBC_NUMSIGINFO).failcnt == 0);
  }
}
