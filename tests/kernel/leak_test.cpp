// The leak test: many mixed operations in two CTs that pass fds to each other, with limits
// tight enough that refusals happen, must leave every enforced row at held 0.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <string>

#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;
using ubc::test::Workload;

TEST_SUITE("leaks") {
  TEST_CASE("100k mixed operations (fork, exec, kill -9, threads, dup, SCM_RIGHTS across CTs ...) leave held at 0") {
    ScopedCt first("leak-a");
    ScopedCt second("leak-b");
    for (const ScopedCt* ct : {&first, &second}) {
      ct->set(UBC_NUMFILE, 300, 300);
      ct->set(UBC_NUMFLOCK, 30, 30);
      ct->set(UBC_NUMPTY, 8, 8);
      ct->set(UBC_SHMPAGES, 64, 64);
      ct->set(UBC_NUMPROC, 12, 12);
      ct->set(UBC_NUMOTHERSOCK, 1000, 1000);  // counted, but numfile must stay the first wall
    }
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    ubc::UniqueFd first_end(pair[0]), second_end(pair[1]);
    long refused = 0;
    {
      Workload a(first, first_end.get());
      Workload b(second, second_end.get());
      constexpr int kRounds = 20;
      constexpr int kOperationsPerRound = 2500;  // per CT: 2 x 20 x 2500 = 100k
      for (int round = 0; round < kRounds; ++round) {
        a.ask("chaos " + std::to_string(kOperationsPerRound) + " 12345");
        refused = b.ask("chaos " + std::to_string(kOperationsPerRound) + " 67890").at(1);
      }
      MESSAGE("second CT: " << refused << " refused operations of " << kRounds * kOperationsPerRound);
      for (const ScopedCt* ct : {&first, &second})
        for (ubc_resource resource :
             {UBC_NUMFILE, UBC_NUMFLOCK, UBC_NUMPTY, UBC_SHMPAGES, UBC_NUMPROC, UBC_NUMOTHERSOCK})
          MESSAGE(ct->id() << " " << resource << ": maxheld " << ct->counter(resource).maxheld << ", failcnt "
                           << ct->counter(resource).failcnt);
      a.ask("closeall");
      b.ask("closeall");
      CHECK(a.finish() == 0);
      CHECK(b.finish() == 0);
    }
    first_end.reset();
    second_end.reset();  // fds still in flight in the socket die with it
    CHECK(refused > 0);  // the limits were reached, so refusal paths ran too
    for (const ScopedCt* ct : {&first, &second}) {
      for (ubc_resource resource : {UBC_NUMFILE, UBC_NUMFLOCK, UBC_NUMPTY, UBC_SHMPAGES, UBC_NUMPROC}) {
        CAPTURE(ct->id());
        CAPTURE(resource);
        CHECK(wait_for_held(*ct, resource, 0) == 0);
        CHECK(ct->counter(resource).failcnt > 0);
      }
      // Socketpairs are in the mix too; their limit is not always reached.
      CHECK(wait_for_held(*ct, UBC_NUMOTHERSOCK, 0) == 0);
    }
  }
}
