#include "ubc/checkpoint_state.h"

#include <doctest/doctest.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <stdexcept>

#include "ubc/criu_commands.h"
#include "ubc/resource_table.h"

namespace {

bool has_pair(const std::vector<std::string>& args, const std::string& option, const std::string& value) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == option && args[i + 1] == value) return true;
  return false;
}

}  // namespace

TEST_CASE("a checkpoint's state file keeps every row's figures and whether it was restored") {
  ubc::CheckpointState state{"101", "tty[8800:13]", "2026-12-02T03:00:00Z", std::nullopt, {}, {}};
  state.rows.push_back({ubc::find_resource("numfile"), {22, 154, 300, 300, 7}});
  state.rows.push_back({ubc::find_resource("numproc"), {4, 6, 40, 40, 0}});
  const auto read = ubc::parse_checkpoint_state(ubc::format_checkpoint_state(state));
  CHECK(read.ctid == "101");
  CHECK(read.console == "tty[8800:13]");
  CHECK(read.dumped_at == state.dumped_at);
  CHECK_FALSE(read.restored_at);
  REQUIRE(read.rows.size() == 2);
  const auto numfile =
      std::find_if(read.rows.begin(), read.rows.end(), [](const auto& row) { return row.resource->name == "numfile"; });
  REQUIRE(numfile != read.rows.end());
  CHECK(numfile->counter.maxheld == 154);
  CHECK(numfile->counter.failcnt == 7);
  CHECK(numfile->counter.barrier == 300);

  CHECK_FALSE(read.cpu.cpuunits);  // none set: the config's, at restore
  CHECK_FALSE(read.cpu.cpulimit);
  CHECK_FALSE(read.cpu.cpus);

  state.restored_at = "2026-12-02T03:05:00Z";
  state.cpu.cpuunits = 2000;
  state.cpu.cpulimit = 50;
  const auto again = ubc::parse_checkpoint_state(ubc::format_checkpoint_state(state));
  CHECK(again.restored_at == state.restored_at);
  CHECK(again.cpu.cpuunits == 2000u);
  CHECK(again.cpu.cpulimit == 50u);
  CHECK_FALSE(again.cpu.cpus);
}

TEST_CASE("a state file without CPU settings (an older ubc's) reads as none; a bad one is refused") {
  const std::string head = R"({"format": 1, "ctid": "1", "console": "", "dumped_at": "t", "resources": {})";
  const auto old = ubc::parse_checkpoint_state(head + "}");
  CHECK_FALSE(old.cpu.cpuunits);
  CHECK_THROWS_WITH(ubc::parse_checkpoint_state(head + R"(, "cpu": [1]})"), doctest::Contains("cpu is not an object"));
  CHECK_THROWS_WITH(ubc::parse_checkpoint_state(head + R"(, "cpu": {"cpuunits": "x"}})"),
                    doctest::Contains("cpu.cpuunits"));
  CHECK_THROWS_WITH(ubc::parse_checkpoint_state(head + R"(, "cpu": {"cpus": 99999999999}})"),
                    doctest::Contains("too big"));
}

TEST_CASE("a state file that is not ubc's, or of another format, is refused with the reason") {
  CHECK_THROWS_AS(ubc::parse_checkpoint_state("not json"), std::invalid_argument);
  CHECK_THROWS_WITH(ubc::parse_checkpoint_state(R"({"format": 2})"), doctest::Contains("format 2"));
  CHECK_THROWS_WITH(
      ubc::parse_checkpoint_state(
          R"({"format": 1, "ctid": "1", "console": "", "dumped_at": "t", "resources": {"numfrobs": {}}})"),
      doctest::Contains("unknown resource numfrobs"));
  CHECK_THROWS_WITH(
      ubc::parse_checkpoint_state(
          R"({"format": 1, "ctid": "1", "console": "", "dumped_at": "t", "resources": {"numfile": {"held": -1}}})"),
      doctest::Contains("numfile.held"));
}

TEST_CASE("CRIU's command lines: the CT's /proc view, console and host binds are external") {
  CHECK(ubc::criu_tty_key(makedev(136, 3), 0x16) == "tty[8803:16]");
  CHECK(ubc::criu_tty_key(makedev(136, 300), 0x16) == "tty[10882c:16]");

  const auto dump = ubc::criu_dump_arguments(
      {42, "/sys/fs/cgroup/ubc/101", "/d", "tty[8803:16]", true, "/run/ubc/101.criu-yard", ""});
  CHECK(dump[1] == "dump");
  CHECK(has_pair(dump, "-t", "42"));
  CHECK(has_pair(dump, "--freeze-cgroup", "/sys/fs/cgroup/ubc/101"));
  CHECK(has_pair(dump, "--external", "mnt[/proc]:ubc-proc"));
  CHECK(has_pair(dump, "--external", "mnt[/dev/console]:ubc-console"));
  CHECK(has_pair(dump, "--external", "mnt[]"));
  CHECK(has_pair(dump, "--external", "mnt[/sys/fs/cgroup]:ubc-cgroup"));
  CHECK(has_pair(dump, "--external", "tty[8803:16]"));
  CHECK(has_pair(dump, "--network-lock", "nftables"));
  CHECK(std::count(dump.begin(), dump.end(), "--manage-cgroups=soft") == 1);
  CHECK(has_pair(dump, "--cgroup-yard", "/run/ubc/101.criu-yard"));
  CHECK(ubc::criu_cgroup_yard_mount("/y") == "/y/unified");
  CHECK(std::count(dump.begin(), dump.end(), "--tcp-established") == 1);
  CHECK(std::count(dump.begin(), dump.end(), "--leave-running") == 0);
  // chkpnt --dump: the CT's tasks stay (suspended).
  const auto leave = ubc::criu_dump_arguments({42, "/c", "/d", "", false, "/y", "", true});
  CHECK(std::count(leave.begin(), leave.end(), "--leave-running") == 1);

  const auto no_console = ubc::criu_dump_arguments({42, "/c", "/d", "", false, "/y", ""});
  CHECK_FALSE(has_pair(no_console, "--external", "mnt[/dev/console]:ubc-console"));
  CHECK(std::count(dump.begin(), dump.end(), "--track-mem") == 0);

  // Pre-dumps track memory; the dump after them adds to the last one.
  const auto first_pre_dump = ubc::criu_pre_dump_arguments({42, "/c", "/d/pre-1", "", false, "/y", ""});
  CHECK(first_pre_dump[1] == "pre-dump");
  CHECK(std::count(first_pre_dump.begin(), first_pre_dump.end(), "--track-mem") == 1);
  CHECK(std::count(first_pre_dump.begin(), first_pre_dump.end(), "--prev-images-dir") == 0);
  CHECK(has_pair(first_pre_dump, "--external", "mnt[/proc]:ubc-proc"));
  const auto second_pre_dump = ubc::criu_pre_dump_arguments({42, "/c", "/d/pre-2", "", false, "/y", "../pre-1"});
  CHECK(std::count(second_pre_dump.begin(), second_pre_dump.end(), "--track-mem") == 1);
  CHECK(has_pair(second_pre_dump, "--prev-images-dir", "../pre-1"));
  const auto on_top = ubc::criu_dump_arguments({42, "/c", "/d", "", false, "/y", ubc::pre_dump_name(2)});
  CHECK(has_pair(on_top, "--prev-images-dir", "pre-2"));
  CHECK(std::count(on_top.begin(), on_top.end(), "--track-mem") == 1);

  const auto restore =
      ubc::criu_restore_arguments({"/ct", "/d", "/run/ubc/101.restore-proc", "tty[8803:16]", 9, "/dev/pts/4", "/p",
                                   "/sys/fs/cgroup/ubc/101", "/y", "ubc77", "/ubc/101"});
  CHECK(restore[1] == "restore");
  CHECK(has_pair(restore, "--root", "/ct"));
  CHECK(has_pair(restore, "--pidfile", "/p"));
  CHECK(has_pair(restore, "--external", "mnt[ubc-proc]:/run/ubc/101.restore-proc"));
  CHECK(has_pair(restore, "--external", "mnt[ubc-console]:/dev/pts/4"));
  CHECK(has_pair(restore, "--inherit-fd", "fd[9]:tty[8803:16]"));
  CHECK(has_pair(restore, "--ext-mount-map", "auto"));
  CHECK(has_pair(restore, "--cgroup-yard", "/y"));
  CHECK(has_pair(restore, "--external", "mnt[ubc-cgroup]:/sys/fs/cgroup/ubc/101"));
  CHECK(std::find(restore.begin(), restore.end(), "-d") != restore.end());
  CHECK(has_pair(restore, "--veth-pair", "eth0=ubc77"));
  CHECK(has_pair(restore, "--cgroup-root", "/ubc/101"));
  const auto no_console_restore =
      ubc::criu_restore_arguments({"/ct", "/d", "/v", "", -1, "", "/p", "/c", "/y", "", ""});
  CHECK(std::find(no_console_restore.begin(), no_console_restore.end(), "--inherit-fd") == no_console_restore.end());
  CHECK(std::find(no_console_restore.begin(), no_console_restore.end(), "--veth-pair") == no_console_restore.end());
}
