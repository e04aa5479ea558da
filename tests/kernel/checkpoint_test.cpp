// Checkpoint stages of a running CT (issue 19), in a real kernel: suspend and resume with
// the cgroup freezer, as vzctl chkpnt --suspend / --resume; what the CT can do about it.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "loader/cgroup.h"
#include "running_ct.h"
#include "workload.h"

namespace fs = std::filesystem;
using ubc::test::RunningCt;
using ubc::test::ubcctl;

namespace {

// A CT process that counts seconds into /count, from a cgroup of the CT's own making that
// it has told not to freeze: a CT that tries to stay awake through a suspend.
void start_counter(const RunningCt& ct) {
  std::ofstream(ct.root() / "counter.sh") << "mkdir -p /sys/fs/cgroup/awake\n"
                                             "echo $$ > /sys/fs/cgroup/awake/cgroup.procs\n"
                                             "echo 0 > /sys/fs/cgroup/awake/cgroup.freeze\n"
                                             "i=0\n"
                                             "while :; do i=$((i+1)); echo $i > /count; sleep 1; done\n";
  REQUIRE(ct.exec("setsid sh /counter.sh </dev/null >/dev/null 2>&1 &").status == 0);
}

long count_of(const RunningCt& ct) {
  std::ifstream in(ct.root() / "count");
  long count = -1;
  in >> count;
  return count;
}

// The count once it has moved past `after` (or -1 after 10 s).
long count_past(const RunningCt& ct, long after) {
  for (int tries = 0; tries < 100; ++tries) {
    if (const long count = count_of(ct); count > after) return count;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

}  // namespace

TEST_SUITE("checkpoint") {
  TEST_CASE("chkpnt --suspend freezes every task of a CT where it is, nested cgroups too; --resume thaws it") {
    RunningCt ct("ct-freeze", "");
    const fs::path cgroup = ubc::test::host().cgroup_of(ct.id());
    start_counter(ct);
    REQUIRE(count_past(ct, 0) > 0);
    CHECK(ct.exec("cat /proc/self/cgroup").output == "0::/\n");  // exec's shell is in the CT's top cgroup

    const auto suspended = ubcctl("chkpnt " + ct.id() + " --suspend");
    REQUIRE_MESSAGE(suspended.status == 0, suspended.output);
    CHECK(ubc::cgroup::is_frozen(cgroup));
    CHECK(ubc::cgroup::is_frozen(cgroup / "awake"));
    const long frozen_at = count_of(ct);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    CHECK(count_of(ct) == frozen_at);  // its own "do not freeze" did not keep it running
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running suspended\n"));
    const auto listed = ubcctl("list -o ctid,status");
    CAPTURE(listed.output);
    CHECK(listed.output.find(" suspended") != std::string::npos);

    // Nothing joins a frozen CT (it would freeze too), and a stage is not taken twice.
    const auto exec = ubcctl("exec " + ct.id() + " -- true");
    CHECK(exec.status != 0);
    CHECK(exec.output.find("is suspended") != std::string::npos);
    CHECK(ubcctl("enter " + ct.id() + " </dev/null").output.find("is suspended") != std::string::npos);
    CHECK(ubcctl("chkpnt " + ct.id() + " --suspend").output.find("suspended already") != std::string::npos);

    const auto resumed = ubcctl("chkpnt " + ct.id() + " --resume");
    REQUIRE_MESSAGE(resumed.status == 0, resumed.output);
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));
    CHECK(count_past(ct, frozen_at) > frozen_at);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
    CHECK(ubcctl("chkpnt " + ct.id() + " --resume").output.find("is not suspended") != std::string::npos);
  }

  TEST_CASE("a CT cannot freeze or thaw itself; stop ends a suspended CT; bad requests change nothing") {
    RunningCt ct("ct-freeze-self", "");
    const fs::path cgroup = ubc::test::host().cgroup_of(ct.id());
    // Its own cgroup's cgroup.freeze is the host's (nsdelegate), from a nested user and
    // cgroup namespace too.
    CHECK(ct.exec("echo 1 > /sys/fs/cgroup/cgroup.freeze").status != 0);
    CHECK(ubc::cgroup::read_file(cgroup / "cgroup.freeze") == "0\n");
    CHECK(ct.exec("ubc-escape nested-cgroup cgroup.freeze 1").output != "ok\n");
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));

    const auto no_stage = ubcctl("chkpnt " + ct.id());
    CHECK(no_stage.status == 2);
    CHECK(no_stage.output.find("--suspend or --resume") != std::string::npos);
    CHECK(ubcctl("chkpnt " + ct.id() + " --suspend --resume").status != 0);
    CHECK(ubcctl("chkpnt no-such-ct --suspend").status != 0);
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));

    REQUIRE(ubcctl("chkpnt " + ct.id() + " --suspend").status == 0);
    const auto began = std::chrono::steady_clock::now();
    const auto stopped = ubcctl("stop " + ct.id() + " --timeout 30");
    REQUIRE_MESSAGE(stopped.status == 0, stopped.output);
    // Thawed first, init takes its halt signal at once rather than waiting out the time-out.
    CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(20));
    CHECK_FALSE(ubc::cgroup::is_populated(cgroup));
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));
    CHECK(ubcctl("chkpnt " + ct.id() + " --suspend").output.find("is not running") != std::string::npos);
    REQUIRE(ubcctl("start " + ct.id()).status == 0);
    CHECK(ct.exec("echo alive").output == "alive\n");
  }
}
