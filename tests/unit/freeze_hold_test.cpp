#include "ubc/freeze_hold.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;

namespace {

// A directory standing in for a cgroup: its cgroup.freeze a plain file, "1" (frozen).
struct FakeCgroup {
  FakeCgroup() : dir(fs::temp_directory_path() / ("ubc-freeze-hold-" + std::to_string(::getpid()))) {
    fs::create_directories(dir);
    std::ofstream(dir / "cgroup.freeze") << "1";
  }
  ~FakeCgroup() { fs::remove_all(dir); }

  std::string freeze() const {
    std::string value;
    std::ifstream(dir / "cgroup.freeze") >> value;
    return value;
  }
  // The watcher's answer, given up to 5 s.
  std::string freeze_once_settled(const std::string& expected) const {
    for (int tries = 0; tries < 50 && freeze() != expected; ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return freeze();
  }

  fs::path dir;
};

// A holder killed while a child it forked with the hold runs on (ubcctl killed while the
// process that waits for CRIU runs): nothing happens until that child ends or releases it.
void kill_holder_with_a_forked_one(const FakeCgroup& cgroup, bool forked_releases) {
  int go[2];
  REQUIRE(::pipe(go) == 0);
  const pid_t holder = ::fork();
  REQUIRE(holder >= 0);
  if (holder == 0) {
    ubc::FreezeHold hold(cgroup.dir);
    if (::fork() == 0) {
      char byte;
      if (::read(go[0], &byte, 1) == 1 && forked_releases) ubc::release_held(hold.holder_fd());
      ::_exit(0);
    }
    ::raise(SIGKILL);
  }
  ::waitpid(holder, nullptr, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(cgroup.freeze() == "1");  // the forked holder still holds it
  [[maybe_unused]] const auto sent = ::write(go[1], "x", 1);
  ::close(go[0]);
  ::close(go[1]);
  const std::string expected = forked_releases ? "1" : "0";
  CHECK(cgroup.freeze_once_settled(expected) == expected);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(cgroup.freeze() == expected);
}

}  // namespace

TEST_CASE("a freeze held is thawed only when every holder died without releasing it") {
  FakeCgroup cgroup;
  SUBCASE("released, as a holder that ends in order does") {
    { ubc::FreezeHold hold(cgroup.dir); }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(cgroup.freeze() == "1");
  }
  SUBCASE("its holder killed") {
    const pid_t holder = ::fork();
    REQUIRE(holder >= 0);
    if (holder == 0) {
      ubc::FreezeHold hold(cgroup.dir);
      ::raise(SIGKILL);
    }
    ::waitpid(holder, nullptr, 0);
    CHECK(cgroup.freeze_once_settled("0") == "0");
  }
  SUBCASE("killed, a forked holder left, which ends") {
    kill_holder_with_a_forked_one(cgroup, false);
  }
  SUBCASE("killed, a forked holder left, which releases it") {
    kill_holder_with_a_forked_one(cgroup, true);
  }
}
