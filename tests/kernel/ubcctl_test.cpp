// ubcctl as a user runs it, against the kernel tests' engine (UBC_PIN_DIR / UBC_CGROUP_ROOT
// are inherited), so that the CLI's promises are tested in a real kernel too.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "loader/cgroup.h"
#include "loader/engine.h"
#include "workload.h"

namespace {

using ubc::test::ubcctl;
using Run = ubc::test::CommandRun;

}  // namespace

TEST_SUITE("ubcctl") {
  TEST_CASE("create, set, exec until refused, show in /proc/user_beancounters format, destroy") {
    REQUIRE(ubcctl("create 4242").status == 0);
    CHECK(ubcctl("set 4242 --numfile 40:60").status == 0);
    // A shell in the CT opens fds until the kernel refuses one.
    const Run exec = ubcctl(
        "exec 4242 -- bash -c 'n=0; while [ $n -lt 500 ] && { exec {fd}</dev/null; } 2>/dev/null; "
        "do n=$((n+1)); done; echo opened $n'");
    CHECK(exec.status == 0);
    CHECK(exec.output.find("opened ") != std::string::npos);

    const Run show = ubcctl("show 4242");
    CHECK(show.status == 0);
    CHECK(show.output.starts_with("Version: 2.5\n       uid  resource"));
    // The CT id stands on its first row only, whichever resource that is.
    CHECK(show.output.find("\n      4242: ") != std::string::npos);
    CHECK(show.output.find("      4242: numfile") == std::string::npos);
    CHECK(show.output.find("\n            numfile ") != std::string::npos);

    const Run json = ubcctl("show 4242 --json");
    REQUIRE(json.status == 0);
    const auto numfile = nlohmann::json::parse(json.output)["containers"][0]["resources"]["numfile"];
    CHECK(numfile["barrier"] == 40);
    CHECK(numfile["limit"] == 60);
    CHECK(numfile["maxheld"] == 40);
    CHECK(numfile["failcnt"] == 1);
    CHECK(numfile["held"] == 0);  // the shell has exited

    // Relative failcnt, as vzubc -r: all of it the first time, then only what is new;
    // failcnt itself never moves back.
    auto relative_failcnt = [] {
      const Run run = ubcctl("show 4242 --json -r");
      REQUIRE(run.status == 0);
      return nlohmann::json::parse(run.output)["containers"][0]["resources"]["numfile"]["failcnt"].get<int>();
    };
    CHECK(relative_failcnt() == 1);
    CHECK(relative_failcnt() == 0);
    CHECK(nlohmann::json::parse(
              ubcctl("show 4242 --json").output)["containers"][0]["resources"]["numfile"]["failcnt"] == 1);
    // Every row of OpenVZ's table is there, in its order, with its dummy rows.
    CHECK(show.output.find("kmemsize") < show.output.find("numiptent"));
    CHECK(std::count(show.output.begin(), show.output.end(), '\n') == 2 + 24);

    // The refusal is in the event stream, with the CT's id and the resource's name.
    const Run events = ubcctl("events");
    CHECK(events.status == 0);
    CHECK(events.output.starts_with("TIME "));
    CHECK(events.output.find(" 4242       numfile ") != std::string::npos);
    CHECK(events.output.find(" bash ") != std::string::npos);

    CHECK(ubcctl("destroy 4242").status == 0);
    CHECK(ubcctl("show 4242").status == 1);
  }

  TEST_CASE("show of every CT names a CT the engine does not know, and shows the others") {
    REQUIRE(ubcctl("create 4301").status == 0);
    REQUIRE(ubcctl("create 4302").status == 0);
    // A registration stopped half-way: the cgroup is there, the engine has no slot for it.
    ubc::Engine engine = ubc::Engine::open(ubc::test::host().paths().pin_dir);
    const std::uint64_t cgroup_id = ubc::cgroup::id_of(ubc::test::host().cgroup_of("4302"));
    const auto slot = engine.find_slot(cgroup_id);
    REQUIRE(slot);
    engine.unbind_slot(cgroup_id);
    engine.release_slot(*slot);
    const Run show = ubcctl("show");
    CAPTURE(show.output);
    CHECK(show.status == 1);
    CHECK(show.output.find("4301: kmemsize") != std::string::npos);
    CHECK(show.output.find("CT 4302 is not registered with the engine") != std::string::npos);
    CHECK(ubcctl("doctor --repair").status == 0);
    CHECK(ubcctl("show").status == 0);
    CHECK(ubcctl("destroy 4301").status == 0);
    CHECK(ubcctl("destroy 4302").status == 0);
  }

  TEST_CASE("bad input is refused with a clear message and changes nothing") {
    REQUIRE(ubcctl("create 4343").status == 0);
    REQUIRE(ubcctl("set 4343 --numfile 100").status == 0);
    Run bad = ubcctl("set 4343 --numfile 200:100");
    CHECK(bad.status == 2);
    CHECK(bad.output.find("barrier 200 is above limit 100") != std::string::npos);
    bad = ubcctl("set 4343 --numfile lots");
    CHECK(bad.status == 2);
    CHECK(bad.output.find("'lots' is not a number") != std::string::npos);
    CHECK(ubcctl("set 4343").status == 2);
    CHECK(ubcctl("create 'bad/id'").status == 2);
    CHECK(ubcctl("create 4343").output.find("already exists") != std::string::npos);
    const auto numfile =
        nlohmann::json::parse(ubcctl("show 4343 --json").output)["containers"][0]["resources"]["numfile"];
    CHECK(numfile["barrier"] == 100);
    CHECK(numfile["limit"] == 100);
    CHECK(ubcctl("destroy 4343").status == 0);
  }

  TEST_CASE("exec reports the command's exit status, and 127 for a missing command") {
    REQUIRE(ubcctl("create 4444").status == 0);
    CHECK(ubcctl("exec 4444 -- sh -c 'exit 7'").status == 7);
    CHECK(ubcctl("exec 4444 -- /no/such/command").status == 127);
    CHECK(ubcctl("exec 4444 -- cat /proc/self/cgroup").output.find("/4444") != std::string::npos);
    CHECK(ubcctl("destroy 4444").status == 0);
  }

  TEST_CASE("set --save writes vzctl's format; the values survive an engine reload; a bad file is refused") {
    REQUIRE(ubcctl("create 4545").status == 0);
    CHECK(ubcctl("set 4545 --numfile 50:60 --numproc 20 --save").status == 0);
    const auto conf = std::filesystem::path(std::getenv("UBC_CONF_DIR")) / "4545.conf";
    std::ifstream saved(conf);
    const std::string text((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
    CHECK(text.find("NUMFILE=\"50:60\"\n") != std::string::npos);
    CHECK(text.find("NUMPROC=\"20\"\n") != std::string::npos);

    REQUIRE(ubcctl("unload").status == 0);
    REQUIRE(ubcctl("load").status == 0);
    auto numfile = nlohmann::json::parse(ubcctl("show 4545 --json").output)["containers"][0]["resources"]["numfile"];
    CHECK(numfile["barrier"] == 50);
    CHECK(numfile["limit"] == 60);

    // Only saving works without the engine; a broken file then stops the load whole.
    REQUIRE(ubcctl("unload").status == 0);
    CHECK(ubcctl("set 4545 --numfile 70").status == 1);
    CHECK(ubcctl("set 4545 --numfile 70 --save").status == 0);
    {
      std::ofstream broken(conf, std::ios::app);
      broken << "NUMPTY=\"many\"\n";
    }
    const Run refused = ubcctl("load");
    CHECK(refused.status == 1);
    CHECK(refused.output.find("4545.conf:3: numpty: 'many' is not a number") != std::string::npos);
    CHECK(ubcctl("show").status == 1);  // nothing half-loaded
    std::filesystem::remove(conf);
    REQUIRE(ubcctl("load").status == 0);
    ubc::test::reopen_host();
    CHECK(ubcctl("destroy 4545").status == 0);
  }

  TEST_CASE("set checks every option before it writes, refuses config injection, and keeps the file's mode") {
    REQUIRE(ubcctl("create 4646").status == 0);
    const auto conf = std::filesystem::path(std::getenv("UBC_CONF_DIR")) / "4646.conf";
    auto text = [&] {
      std::ifstream in(conf);
      return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    REQUIRE(ubcctl("set 4646 --hostname before --save").status == 0);
    std::filesystem::permissions(conf, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const std::string before = text();
    // A value that would end the quoted word and add a line of its own.
    CHECK(ubcctl("set 4646 --hostname \"$(printf 'x\"\\nVE_ROOT=\"/')\"").status == 2);
    CHECK(ubcctl("set 4646 --init '/sbin/init $(reboot)'").status == 2);
    // One bad value: nothing of the good ones is saved.
    CHECK(ubcctl("set 4646 --hostname after --numfile bogus --save").status == 2);
    CHECK(ubcctl("set 4646 --hostname after --cpuunits 3 --save").status == 2);
    CHECK(ubcctl("set 4646 --hostname after --devices stdin").status == 2);  // a symlink, not a device
    CHECK(text() == before);
    // Bytes below a page round up to a page, never to 0 (memory.max 0).
    REQUIRE(ubcctl("set 4646 --physpages 1K --save").status == 0);
    CHECK(text().find("PHYSPAGES=\"1\"") != std::string::npos);
    CHECK((std::filesystem::status(conf).permissions() & std::filesystem::perms::all) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    // vzctl's w is write only.
    REQUIRE(ubcctl("set 4646 --devices null:w").status == 0);
    CHECK(text().find("DEVNODES=\"null:w\"") != std::string::npos);
    CHECK(ubcctl("destroy 4646").status == 0);
    // A CT that does not exist gets an error, and no config.
    const Run missing = ubcctl("set 4747 --hostname h --save");
    CHECK(missing.status == 1);
    CHECK(missing.output.find("4747 does not exist") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(conf.parent_path() / "4747.conf"));
    CHECK(ubcctl("set 4747 --numfile 5").status == 1);
  }

  TEST_CASE("concurrent set --save runs never lose each other's change") {
    REQUIRE(ubcctl("create 4848").status == 0);
    const char* rows[] = {"numproc",      "numflock",  "numpty",   "numsiginfo", "numtcpsock",
                          "numothersock", "numiptent", "shmpages", "numfile",    "lockedpages"};
    std::vector<std::thread> writers;
    for (const char* row : rows)
      writers.emplace_back([row] { ubcctl(std::string("set 4848 --") + row + " 77 --save"); });
    for (auto& writer : writers) writer.join();
    const auto conf = std::filesystem::path(std::getenv("UBC_CONF_DIR")) / "4848.conf";
    std::ifstream in(conf);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char* row : rows) {
      std::string key = row;
      std::transform(key.begin(), key.end(), key.begin(), ::toupper);
      CAPTURE(key);
      CHECK(text.find(key + "=\"77\"") != std::string::npos);
    }
    CHECK(ubcctl("destroy 4848").status == 0);
  }
}
