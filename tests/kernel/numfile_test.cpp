// numfile in a real kernel: one case per promise of docs/RESOURCES.md's numfile row.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <sstream>
#include <thread>

#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_numfile_held;
using ubc::test::Workload;

namespace {
// The kernel skips a tracing program re-entered on a CPU where it is already running and
// counts a recursion miss; the engine then charges late (bpf/numfile.bpf.h). Print both
// so a run shows how often that happened.
void report_engine_health(const char* when) {
  const auto& pins = ubc::test::host().paths().pin_dir;
  std::ostringstream text;
  text << when << ": late charges " << ubc::Engine::open(pins).stats()[UBC_STAT_LATE_CHARGE] << "; misses";
  for (const auto& program : ubc::Engine::program_health(pins))
    text << " " << program.name << "=" << program.recursion_misses;
  MESSAGE(text.str());
}
}  // namespace

TEST_SUITE("numfile") {
  TEST_CASE("a CT opens files until refused at its limit with ENFILE; held returns to 0 at exit") {
    ScopedCt ct("nf-limit");
    Workload workload(ct);
    const ubc_counter start = ct.numfile();
    // The workload's executable and libraries were opened inside the CT: already charged.
    CHECK(start.held > 0);
    const std::uint64_t limit = start.held + 50;
    ct.set_numfile(limit, limit);

    const auto reply = workload.ask("open 0");
    CHECK(reply.at(0) == 50);
    CHECK(reply.at(1) == ENFILE);
    const ubc_counter after = ct.numfile();
    CHECK(after.held == limit);
    CHECK(after.maxheld == limit);
    CHECK(after.failcnt == start.failcnt + 1);

    CHECK(workload.finish() == 0);
    CHECK(wait_for_numfile_held(ct, 0) == 0);
    CHECK(ct.numfile().maxheld == limit);
    CHECK(ct.numfile().failcnt == start.failcnt + 1);
  }

  TEST_CASE("the barrier refuses before the limit (OpenVZ's hard charge)") {
    ScopedCt ct("nf-barrier");
    Workload workload(ct);
    const std::uint64_t held = ct.numfile().held;
    ct.set_numfile(held + 10, held + 20);
    const auto reply = workload.ask("open 0");
    CHECK(reply.at(0) == 10);
    CHECK(reply.at(1) == ENFILE);
    CHECK(ct.numfile().held == held + 10);
  }

  TEST_CASE("pipes, sockets, socketpairs, eventfd, epoll and memfd are each counted") {
    ScopedCt ct("nf-kinds");
    Workload workload(ct);
    const std::uint64_t before = ct.numfile().held;
    const auto reply = workload.ask("kinds");
    CHECK(ct.numfile().held == before + static_cast<std::uint64_t>(reply.at(0)));
    workload.ask("closeall");
    CHECK(wait_for_numfile_held(ct, before) == before);
  }

  TEST_CASE("a pipe that does not fit fails with ENFILE and leaves no half charged") {
    ScopedCt ct("nf-pipe");
    Workload workload(ct);
    const ubc_counter start = ct.numfile();
    ct.set_numfile(start.held + 1, start.held + 1);  // room for one end of a pipe, not two
    CHECK(workload.ask("pipe").at(0) == ENFILE);
    CHECK(ct.numfile().held == start.held);  // the first end was freed and uncharged
    CHECK(ct.numfile().failcnt == start.failcnt + 1);

    ct.set_numfile(start.held + 2, start.held + 2);
    CHECK(workload.ask("pipe").at(0) == 0);
    CHECK(ct.numfile().held == start.held + 2);
  }

  TEST_CASE("an fd passed to another CT stays charged to the CT that allocated it") {
    ScopedCt sender_ct("nf-send");
    ScopedCt receiver_ct("nf-recv");
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    ubc::UniqueFd sender_end(pair[0]), receiver_end(pair[1]);
    Workload sender(sender_ct, sender_end.get());
    Workload receiver(receiver_ct, receiver_end.get());
    const std::uint64_t receiver_before = receiver_ct.numfile().held;

    sender.ask("sendfd");  // pipe of two files; both ends closed, read end in flight
    receiver.ask("recvfd");
    CHECK(sender.finish() == 0);
    // Everything of the sender is gone but the pipe's read end, which the receiver holds.
    CHECK(wait_for_numfile_held(sender_ct, 1) == 1);
    CHECK(receiver_ct.numfile().held == receiver_before);

    receiver.ask("closeall");
    CHECK(wait_for_numfile_held(sender_ct, 0) == 0);
    CHECK(receiver_ct.numfile().held == receiver_before);
  }

  TEST_CASE("32 threads racing at the limit never overshoot") {
    ScopedCt ct("nf-race");
    Workload workload(ct);
    const std::uint64_t held = ct.numfile().held;
    const std::uint64_t limit = held + 500;
    ct.set_numfile(limit, limit);
    const auto reply = workload.ask("race 32");
    report_engine_health("race");
    CHECK(reply.at(0) == 500);
    CHECK(reply.at(1) == 32);  // each thread stops at its first refusal
    const ubc_counter after = ct.numfile();
    CHECK(after.held == limit);
    CHECK(after.maxheld == limit);
    CHECK(after.failcnt == 32);
  }

  TEST_CASE("32 threads churning open/close at the limit never push maxheld past it") {
    ScopedCt ct("nf-churn");
    Workload workload(ct);
    const std::uint64_t held = ct.numfile().held;
    const std::uint64_t limit = held + 4;
    ct.set_numfile(limit, limit);
    const auto reply = workload.ask("churn 32 300");
    MESSAGE("churn: " << reply.at(0) << " opened, " << reply.at(1) << " refused");
    report_engine_health("churn");
    const ubc_counter after = ct.numfile();
    CHECK(reply.at(0) + reply.at(1) == 32 * 300);
    CHECK(reply.at(1) > 0);  // 32 threads yielding while they hold one of 4 places
    CHECK(after.failcnt == static_cast<std::uint64_t>(reply.at(1)));
    CHECK(after.maxheld == limit);
    CHECK(wait_for_numfile_held(ct, held) == held);
  }

  TEST_CASE("set on a running CT: raising admits more, lowering below held refuses and kills nothing") {
    ScopedCt ct("nf-hotset");
    Workload workload(ct);
    workload.ask("open 20");
    const std::uint64_t held = ct.numfile().held;

    ct.set_numfile(held + 5, held + 5);
    auto reply = workload.ask("open 0");
    CHECK(reply.at(0) == 5);
    CHECK(reply.at(1) == ENFILE);

    ct.set_numfile(held - 3, held - 3);
    reply = workload.ask("open 0");
    CHECK(reply.at(0) == 0);
    CHECK(reply.at(1) == ENFILE);
    CHECK(ct.numfile().held == held + 5);  // nothing was taken away

    ct.set_numfile(UBC_UNLIMITED, UBC_UNLIMITED);
    reply = workload.ask("open 10");
    CHECK(reply.at(0) == 10);
    CHECK(ct.numfile().held == held + 15);
    CHECK(workload.finish() == 0);
    CHECK(wait_for_numfile_held(ct, 0) == 0);
  }

  TEST_CASE("tasks in cgroups nested inside a CT are charged to the CT") {
    ScopedCt ct("nf-nested");
    const auto nested = ubc::test::host().cgroup_of(ct.id()) / "app" / "worker";
    std::filesystem::create_directories(nested);
    Workload workload(ct, -1, "app/worker");
    const std::uint64_t held = ct.numfile().held;
    CHECK(held > 0);  // its executable and libraries, charged to the CT
    ct.set_numfile(held + 7, held + 7);
    const auto reply = workload.ask("open 0");
    CHECK(reply.at(0) == 7);
    CHECK(reply.at(1) == ENFILE);
    CHECK(ct.numfile().failcnt == 1);
    CHECK(workload.finish() == 0);
    CHECK(wait_for_numfile_held(ct, 0) == 0);
  }

  TEST_CASE("host processes outside any CT are never charged or refused") {
    ScopedCt ct("nf-host");
    ct.set_numfile(0, 0);
    const ubc_counter before = ct.numfile();
    std::vector<ubc::UniqueFd> files;
    for (int i = 0; i < 100; ++i) {
      files.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      REQUIRE(files.back());
    }
    const ubc_counter after = ct.numfile();
    CHECK(after.held == before.held);
    CHECK(after.failcnt == before.failcnt);
  }

  TEST_CASE("files charged before an engine reload never make held negative") {
    ScopedCt ct("nf-reload");
    Workload workload(ct);
    workload.ask("open 30");
    CHECK(ct.numfile().held >= 30);
    ubc::test::host().unload_engine();
    ubc::test::host().load_engine();  // re-registers the CT: held starts again at 0
    CHECK(ct.numfile().held == 0);
    workload.ask("closeall");
    CHECK(workload.finish() == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(ct.numfile().held == 0);
  }
}
