// shmpages (SysV segments) in a real kernel: one case per promise of docs/RESOURCES.md.
#include <doctest/doctest.h>
#include <sys/shm.h>

#include <cerrno>
#include <chrono>

#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;
using ubc::test::Workload;

TEST_SUITE("shmpages") {
  TEST_CASE("segments are charged in pages and refused past the barrier with ENOMEM") {
    ScopedCt ct("shm-limit");
    Workload workload(ct);
    ct.set(UBC_SHMPAGES, 100, 100);
    const auto reply = workload.ask("shm 0 65536");
    CHECK(reply.at(0) == 6);  // 96 pages; a seventh segment would make 112
    CHECK(reply.at(1) == ENOMEM);
    const ubc_counter full = ct.counter(UBC_SHMPAGES);
    CHECK(full.held == 96);
    CHECK(full.maxheld == 96);
    CHECK(full.failcnt == 1);
    CHECK(workload.ask("shm 1 16384").at(0) == 1);  // 4 more pages still fit
    CHECK(ct.counter(UBC_SHMPAGES).held == 100);
    workload.ask("shmrm");
    CHECK(wait_for_held(ct, UBC_SHMPAGES, 0) == 0);
  }

  TEST_CASE("a size that is not a page multiple is charged rounded up") {
    ScopedCt ct("shm-round");
    Workload workload(ct);
    CHECK(workload.ask("shm 1 5000").at(0) == 1);
    CHECK(ct.counter(UBC_SHMPAGES).held == 2);
    CHECK(workload.ask("shm 1 4096").at(0) == 1);
    CHECK(ct.counter(UBC_SHMPAGES).held == 3);
    CHECK(workload.ask("shm 1 0").at(1) == EINVAL);  // the kernel's own refusal: no charge, no failcnt
    CHECK(ct.counter(UBC_SHMPAGES).held == 3);
    CHECK(ct.counter(UBC_SHMPAGES).failcnt == 0);
    workload.ask("shmrm");
    CHECK(wait_for_held(ct, UBC_SHMPAGES, 0) == 0);
  }

  TEST_CASE("a segment of 2^32 pages or more is refused whole and leaves held as it was") {
    ScopedCt ct("shm-huge");
    Workload workload(ct);
    CHECK(workload.ask("shm 1 8192").at(0) == 1);
    // 2^44 bytes: 2^32 pages, one more than an owner record holds. Unlimited, yet refused.
    const auto reply = workload.ask("shm 1 17592186044416");
    CHECK(reply.at(0) == 0);
    CHECK(reply.at(1) == ENOMEM);
    const ubc_counter after = ct.counter(UBC_SHMPAGES);
    CHECK(after.held == 2);
    CHECK(after.failcnt == 1);
    workload.ask("shmrm");
    CHECK(wait_for_held(ct, UBC_SHMPAGES, 0) == 0);
  }

  TEST_CASE("segments outlive their creator and stay charged until removed, by anyone") {
    ScopedCt ct("shm-persist");
    std::vector<int> ids;
    {
      Workload workload(ct);
      CHECK(workload.ask("shm 3 40960").at(0) == 3);
      CHECK(workload.finish() == 0);
    }
    CHECK(ct.counter(UBC_SHMPAGES).held == 30);
    // The host removes the CT's segments (the test shares the IPC namespace for now).
    shmid_ds info{};
    for (int index = 0; index < 1 << 15; ++index) {
      const int id = ::shmctl(index, SHM_STAT, &info);
      if (id >= 0 && info.shm_segsz == 10 * 4096) ::shmctl(id, IPC_RMID, nullptr);
    }
    CHECK(wait_for_held(ct, UBC_SHMPAGES, 0) == 0);
  }

  TEST_CASE("set on a running CT: lowering below held refuses new segments and removes none") {
    ScopedCt ct("shm-hotset");
    Workload workload(ct);
    CHECK(workload.ask("shm 4 32768").at(0) == 4);
    ct.set(UBC_SHMPAGES, 16, 16);
    CHECK(workload.ask("shm 1 4096").at(1) == ENOMEM);
    CHECK(ct.counter(UBC_SHMPAGES).held == 32);
    ct.set(UBC_SHMPAGES, UBC_UNLIMITED, UBC_UNLIMITED);
    CHECK(workload.ask("shm 1 4096").at(0) == 1);
    workload.ask("shmrm");
    CHECK(wait_for_held(ct, UBC_SHMPAGES, 0) == 0);
  }

  TEST_CASE("host segments are never charged") {
    ScopedCt ct("shm-host");
    ct.set(UBC_SHMPAGES, 0, 0);
    const int id = ::shmget(IPC_PRIVATE, 8 * 4096, IPC_CREAT | 0600);
    CHECK(id >= 0);
    CHECK(ct.counter(UBC_SHMPAGES).held == 0);
    CHECK(ct.counter(UBC_SHMPAGES).failcnt == 0);
    ::shmctl(id, IPC_RMID, nullptr);
  }

  TEST_CASE("memfd and shared anonymous pages count in shmpages too, and leave with the process") {
    ScopedCt ct("shm-other");
    Workload workload(ct);
    // memfd and shared anonymous pages are the memcg's shmem figure, which the kernel sums
    // from per-CPU deltas lazily: up to 64 pages per CPU may wait for its flush (every 2 s).
    const auto settled = [&ct](std::uint64_t expected) {
      return wait_for_held(ct, UBC_SHMPAGES, expected, std::chrono::milliseconds(5000));
    };
    const std::uint64_t before = ct.counter(UBC_SHMPAGES).held;
    CHECK(workload.ask("memfd 300").at(0) == 0);
    CHECK(settled(before + 300) == before + 300);
    CHECK(workload.ask("shanon 200").at(0) == 0);
    CHECK(settled(before + 500) == before + 500);
    CHECK(ct.counter(UBC_SHMPAGES).maxheld >= before + 500);
    // A SysV segment counts at its size, touched or not: never twice.
    CHECK(workload.ask("shm 1 409600").at(0) == 1);
    CHECK(settled(before + 600) == before + 600);
    CHECK(workload.ask("shmtouch").at(0) == 0);
    CHECK(settled(before + 600) == before + 600);
    workload.ask("shmrm");
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_SHMPAGES, 0) == 0);
  }
}
