// ubcctl migrate between two hosts (issue 19): run by tests/migrate_check in the first of
// two guests of tools/ubc-vm on one private link, with UBC_TEST_MIGRATE_PEER naming the
// second, which serves SSH for root and has the engine loaded. Skipped anywhere else.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "loader/cgroup.h"
#include "running_ct.h"
#include "ubc/run_command.h"
#include "workload.h"

namespace fs = std::filesystem;
using ubc::test::RunningCt;
using ubc::test::shell;
using ubc::test::ubcctl;

namespace {

const char* peer() {
  const char* name = std::getenv("UBC_TEST_MIGRATE_PEER");
  if (!name)
    MESSAGE(
        "SKIP migrate: no second host (UBC_TEST_MIGRATE_PEER); the migrate_vm suite (tests/migrate_check) runs this");
  return name;
}

// `command` run by root's shell on the peer.
ubc::test::CommandRun on_peer(const std::string& command) {
  return shell("ssh -o BatchMode=yes " + std::string(peer()) + " '" + command + "' 2>&1");
}

// The CT gone from the peer when the test ends, whatever happened (it holds the same range
// of host ids as the next test's CT).
struct PeerCleanup {
  std::string ctid;
  ~PeerCleanup() { on_peer("ubcctl destroy --force " + ctid + " >/dev/null 2>&1"); }
};

// What the peer says of the CT, for a check that failed there.
std::string peer_story(const std::string& ctid) {
  return on_peer("ubcctl status " + ctid + "; tail -n 15 /var/lib/ubc/dump/" + ctid +
                 "/restore.log; tail -c 2000 /run/ubc/" + ctid + ".console; dmesg | tail -n 15")
      .output;
}

void start_counter(const RunningCt& ct) {
  std::ofstream(ct.root() / "counter.sh") << "i=0\nwhile :; do i=$((i+1)); echo $i > /count; sleep 1; done\n";
  REQUIRE(ct.exec("setsid sh /counter.sh </dev/null >/dev/null 2>&1 &").status == 0);
}

long count_here(const RunningCt& ct) {
  long count = -1;
  std::ifstream(ct.root() / "count") >> count;
  return count;
}

long count_on_peer(const std::string& ctid) {
  const auto read = on_peer("ubcctl exec " + ctid + " -- cat /count");
  try {
    return std::stol(read.output);
  } catch (const std::exception&) {
    return -1;
  }
}

// The peer's count once it has moved past `after` (or -1 after 20 s).
long peer_count_past(const std::string& ctid, long after) {
  for (int tries = 0; tries < 20; ++tries) {
    if (const long count = count_on_peer(ctid); count > after) return count;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return -1;
}

}  // namespace

TEST_SUITE("migrate") {
  // Needs no second host: the view migrate's rsync reads a running CT's files through.
  TEST_CASE("the files' copy reads a running CT's tree through no symlink: a directory swapped for one leads nowhere") {
    if (shell("rsync --version >/dev/null 2>&1").status != 0) {
      MESSAGE("SKIP: no rsync");
      return;
    }
    const fs::path work = fs::temp_directory_path() / "ubc-tree-view";
    fs::remove_all(work);
    const fs::path host_dir = work / "host-secrets", tree = work / "tree", copy = work / "copy";
    fs::create_directories(host_dir);
    fs::create_directories(tree / "plain");
    fs::create_directories(copy);
    std::ofstream(host_dir / "secret") << "host secret\n";
    std::ofstream(tree / "plain" / "file") << "ct data\n";
    // The CT's swap, caught between rsync's listing of d/secret and its read of it.
    fs::create_directory_symlink(host_dir, tree / "d");
    std::ofstream(work / "list") << "d/secret\nplain/file\n";
    const std::string out = (work / "out").string();
    const auto in_view = [&](const std::string& command) {
      return ubc::run_command_in_tree_view({"sh", "-c", command + " >" + out + " 2>&1"}, tree,
                                           ubc::TreeView::read_only);
    };
    const auto said = [&] {
      std::ifstream in(out);
      std::stringstream text;
      text << in.rdbuf();
      return text.str();
    };

    // Outside the view, the path leads to the host's file.
    CHECK(shell("cat " + (tree / "d" / "secret").string()).output == "host secret\n");
    // In it, not; the link itself reads as it is, and the CT's own files are there.
    CHECK(in_view("cat " + (tree / "d" / "secret").string()) != 0);
    CHECK(said().find("host secret") == std::string::npos);
    CHECK(in_view("readlink " + (tree / "d").string()) == 0);
    CHECK(said() == host_dir.string() + "\n");
    CHECK(in_view("cat " + (tree / "plain" / "file").string()) == 0);
    CHECK(said() == "ct data\n");
    // The view is read-only.
    CHECK(in_view("touch " + (tree / "plain" / "new").string()) != 0);
    CHECK_FALSE(fs::exists(tree / "plain" / "new"));

    // rsync told to copy d/secret (as the race would have it): the CT's file comes, the
    // host's does not.
    const int copied = in_view("rsync -aHAXSx --numeric-ids --files-from=" + (work / "list").string() + " " +
                               tree.string() + "/ " + copy.string() + "/");
    CAPTURE(said());
    CHECK((copied == 0 || copied == 23));
    CHECK(shell("cat " + (copy / "plain" / "file").string()).output == "ct data\n");
    CHECK(shell("grep -rl 'host secret' " + copy.string()).output.empty());

    // The receiving side's view is writable, and writes through none of the tree's links.
    const auto written = [&](const fs::path& file) {
      return ubc::run_command_in_tree_view({"sh", "-c", "echo new > " + file.string() + " 2>/dev/null"}, tree,
                                           ubc::TreeView::writable);
    };
    CHECK(written(tree / "plain" / "new") == 0);
    CHECK(shell("cat " + (tree / "plain" / "new").string()).output == "new\n");
    CHECK(written(tree / "d" / "new") != 0);
    CHECK_FALSE(fs::exists(host_dir / "new"));
    fs::remove_all(work);
  }

  TEST_CASE("migrate moves a CT's files and saved limits; a running one is started there; --keep-src keeps it here") {
    if (!peer()) return;
    RunningCt ct("mig-off", "");
    const PeerCleanup cleanup{ct.id()};
    std::ofstream(ct.root() / "marker") << "from the source\n";
    REQUIRE(ubcctl("set " + ct.id() + " --numfile 321:321 --save").status == 0);
    const std::string owner = shell("stat -c %u " + ct.root().string()).output;
    const auto migrated = ubcctl("migrate " + ct.id() + " " + peer() + " --keep-src");
    REQUIRE_MESSAGE(migrated.status == 0, migrated.output);
    CHECK(migrated.output.find("down for") != std::string::npos);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted down\n"));
    CHECK(on_peer("ubcctl status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running"));
    CHECK(on_peer("ubcctl exec " + ct.id() + " -- cat /marker").output == "from the source\n");
    const auto rows = on_peer("ubcctl exec " + ct.id() + " -- cat /proc/user_beancounters");
    CAPTURE(rows.output);
    const auto numfile = rows.output.find("numfile");
    REQUIRE(numfile != std::string::npos);
    CHECK(rows.output.substr(numfile, rows.output.find('\n', numfile) - numfile).find(" 321 ") != std::string::npos);
    // Its files keep their owners: the CT keeps its range of host ids there.
    CHECK(on_peer("stat -c %u " + ct.root().string()).output == owner);
    CHECK(on_peer("ubcctl destroy --force " + ct.id()).status == 0);
  }

  TEST_CASE("migrate --online: the CT's processes go on there with their state and beancounter history") {
    if (!peer()) return;
    if (shell("criu --version >/dev/null 2>&1").status != 0) {
      MESSAGE("SKIP: no criu");
      return;
    }
    RunningCt ct("mig-on", "");
    const PeerCleanup cleanup{ct.id()};
    start_counter(ct);
    for (int tries = 0; tries < 50 && count_here(ct) < 2; ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // A failure to remember, and a limit.
    REQUIRE(ubcctl("set " + ct.id() + " --numfile 40").status == 0);
    ct.exec(
        "for fd in 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 "
        "36 37 38 39 40 41; do eval \"exec $fd</dev/null\"; done");
    const auto failcnt_before = ubc::test::host().counter(ct.id(), UBC_NUMFILE).failcnt;
    REQUIRE(failcnt_before > 0);
    REQUIRE(ubcctl("set " + ct.id() + " --numfile 300").status == 0);
    // A CPU share set here, not saved: it goes along.
    REQUIRE(ubcctl("set " + ct.id() + " --cpuunits 2000").status == 0);
    const std::string weight_here = ct.exec("cat /sys/fs/cgroup/cpu.weight").output;
    const long before = count_here(ct);

    const auto migrated = ubcctl("migrate " + ct.id() + " " + peer() + " --online");
    REQUIRE_MESSAGE(migrated.status == 0, migrated.output);
    MESSAGE(migrated.output);
    CHECK(migrated.output.find("frozen for") != std::string::npos);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " deleted"));
    const bool running_there =
        on_peer("ubcctl status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running");
    CHECK_MESSAGE(running_there, peer_story(ct.id()));
    // The same counter, not a new one from 1.
    const long after = peer_count_past(ct.id(), before);
    CHECK(after > before);
    const auto rows = on_peer("ubcctl exec " + ct.id() + " -- cat /proc/user_beancounters");
    CAPTURE(rows.output);
    const auto numfile = rows.output.find("numfile");
    REQUIRE(numfile != std::string::npos);
    // held maxheld barrier limit failcnt: the failcnt is the source's.
    const std::string line = rows.output.substr(numfile, rows.output.find('\n', numfile) - numfile);
    CHECK(line.ends_with(" " + std::to_string(failcnt_before)));
    CHECK(line.find(" 300 ") != std::string::npos);
    CHECK(weight_here == "200\n");
    CHECK(on_peer("ubcctl exec " + ct.id() + " -- cat /sys/fs/cgroup/cpu.weight").output == weight_here);
    CHECK(on_peer("ubcctl destroy --force " + ct.id()).status == 0);
  }

  TEST_CASE("a migration the destination refuses, or fails there, leaves the CT running here as it was") {
    if (!peer()) return;
    RunningCt ct("mig-fail", "");
    const PeerCleanup cleanup{ct.id()};
    start_counter(ct);
    // A CT of that id exists there: refused before the CT is touched.
    REQUIRE(on_peer("ubcctl create " + ct.id()).status == 0);
    const auto refused = ubcctl("migrate " + ct.id() + " " + peer() + " --online");
    CHECK(refused.status != 0);
    CHECK(refused.output.find("exists here") != std::string::npos);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
    REQUIRE(on_peer("ubcctl destroy " + ct.id()).status == 0);

    if (shell("criu --version >/dev/null 2>&1").status == 0) {
      // No CRIU there: an online migration is refused up front.
      REQUIRE(on_peer("mv /usr/sbin/criu /usr/sbin/criu.away").status == 0);
      const auto no_criu = ubcctl("migrate " + ct.id() + " " + peer() + " --online");
      on_peer("mv /usr/sbin/criu.away /usr/sbin/criu");
      CHECK(no_criu.status != 0);
      CHECK(no_criu.output.find("CRIU is needed") != std::string::npos);
      CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));

      // The restore there fails after everything arrived (its ubcctl refuses it): the CT is
      // destroyed there and runs here again from its checkpoint, the same process counting.
      REQUIRE(on_peer("mv /usr/local/bin/ubcctl /usr/local/bin/ubcctl.real && "
                      "printf \"#!/bin/sh\\n[ \\\"\\$1\\\" = restore ] && { echo restore sabotaged >&2; exit 1; }\\n"
                      "exec /usr/local/bin/ubcctl.real \\\"\\$@\\\"\\n\" > /usr/local/bin/ubcctl && chmod +x "
                      "/usr/local/bin/ubcctl")
                  .status == 0);
      const long before = count_here(ct);
      const auto failed = ubcctl("migrate " + ct.id() + " " + peer() + " --online");
      on_peer("mv /usr/local/bin/ubcctl.real /usr/local/bin/ubcctl");
      CHECK(failed.status != 0);
      CAPTURE(failed.output);
      CHECK(failed.output.find("restore sabotaged") != std::string::npos);
      CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
      long after = -1;
      for (int tries = 0; tries < 50 && after <= before; ++tries) {
        after = count_here(ct);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      CHECK(after > before);
      CHECK(after < before + 30);  // went on, not started again from 1
      CHECK(on_peer("ubcctl status " + ct.id()).output.starts_with("CTID " + ct.id() + " deleted"));
      CHECK(on_peer("test -e " + ct.root().string()).status != 0);
    }
    // A host nobody answers on: refused, the CT untouched.
    const auto unreachable = ubcctl("migrate " + ct.id() + " 10.99.0.250 --ssh-opts \"-o ConnectTimeout=3\"");
    CHECK(unreachable.status != 0);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
  }
}
