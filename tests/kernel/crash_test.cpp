// Crash consistency: ubcctl and ubcd killed with SIGKILL at points spread over the whole of
// set --save, create, start, destroy and reload. After every kill, nothing is broken
// (`ubcctl doctor --consistency` finds no config that does not read and no registry that
// contradicts itself), what is half-done is repairable, and the same command (or its
// undo) completes it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "ubc/containers.h"
#include "ubc/ct_config.h"
#include "workload.h"

namespace fs = std::filesystem;
using ubc::test::ubcctl;
using Clock = std::chrono::steady_clock;

namespace {

// Kill points from 30% to 105% of a whole run: the first third is mostly the process
// starting, and past the end the command may also end by itself.
constexpr int kKillPoints = 10;
constexpr int kBroken = 1;

fs::path build_bin() {
  return fs::read_symlink("/proc/self/exe").parent_path();
}

// Starts `program` with `arguments` (shell words), kills it with SIGKILL after `delay`
// unless it ended first. Returns how long it ran.
Clock::duration run_killed_after(const std::string& program, const std::string& arguments, Clock::duration delay) {
  const auto started = Clock::now();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string command = "exec " + (build_bin() / program).string() + " " + arguments + " >/dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (Clock::now() - started < delay) {
    if (::waitpid(child, &status, WNOHANG) == child) return Clock::now() - started;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
  return Clock::now() - started;
}

// How long `ubcctl arguments` takes whole, to spread the kill points over.
Clock::duration full_run(const std::string& arguments) {
  const auto started = Clock::now();
  const auto run = ubcctl(arguments);
  REQUIRE_MESSAGE(run.status == 0, arguments, ": ", run.output);
  const auto whole = Clock::now() - started;
  MESSAGE(arguments, ": ", std::chrono::duration_cast<std::chrono::milliseconds>(whole).count(), " ms whole");
  return whole;
}

Clock::duration kill_point(Clock::duration whole, int point) {
  return whole * (30 + 75 * point / (kKillPoints - 1)) / 100;
}

constexpr int kRepairable = 3;
// Kill points that left something half-done, per scenario: the loop did cut commands.
int g_half_done = 0;

// After a kill: nothing broken; repair leaves nothing to find.
void check_after_kill(const std::string& what) {
  const auto check = ubcctl("doctor --consistency");
  CHECK_MESSAGE(check.status != kBroken, what, ": ", check.output);
  if (check.status == kRepairable) ++g_half_done;
  const auto repaired = ubcctl("doctor --repair");
  CHECK_MESSAGE(repaired.status == 0, what, ": ", repaired.output);
}

void report_half_done(const std::string& scenario) {
  MESSAGE(scenario, ": ", g_half_done, " kill point(s) left something to repair");
  g_half_done = 0;
}

// A busybox root filesystem and a template made of it, for the whole suite.
struct Files {
  fs::path work = fs::temp_directory_path() / "ubc-crash-test";
  fs::path root = work / "root";
  fs::path ostemplate = work / "busybox.tar.gz";
  Files() {
    fs::remove_all(work);
    REQUIRE(std::system(("ubc-mkrootfs " + root.string() + " >/dev/null && tar -czf " + ostemplate.string() + " -C " +
                         root.string() + " .")
                            .c_str()) == 0);
  }
  ~Files() { fs::remove_all(work); }
};

}  // namespace

TEST_SUITE("crash consistency") {
  TEST_CASE("set --save killed anywhere: the config holds all of it or none, and never more than the engine") {
    Files files;
    REQUIRE(ubcctl("create cr-set --root " + files.root.string()).status == 0);
    const auto whole = full_run("set cr-set --numfile 500 --numproc 90 --hostname h0 --cpuunits 2000 --save");
    int saved_points = 0;
    for (int point = 0; point < kKillPoints; ++point) {
      const std::string value = std::to_string(600 + point);
      run_killed_after("ubcctl",
                       "set cr-set --numfile " + value + " --numproc " + value + " --hostname h" + value +
                           " --cpuunits " + value + " --save",
                       kill_point(whole, point));
      check_after_kill("set, kill point " + std::to_string(point));
      const auto config = ubc::CtConfig::load(ubc::config_dir() / "cr-set.conf");
      const bool saved = config.get("NUMFILE") == value;
      CHECK((config.get("NUMPROC") == value) == saved);
      CHECK((config.get("HOSTNAME") == "h" + value) == saved);
      CHECK((config.get("CPUUNITS") == value) == saved);
      if (saved) CHECK(ubc::test::host().counter("cr-set", UBC_NUMFILE).barrier == std::stoull(value));
      saved_points += saved;
    }
    MESSAGE("set --save: ", saved_points, " of ", kKillPoints, " kill points came after the save");
    report_half_done("set --save");
    CHECK(ubcctl("destroy cr-set").status == 0);
  }

  TEST_CASE("create and destroy killed anywhere: the next create or destroy completes") {
    Files files;
    const fs::path area = files.work / "private";
    const std::string create =
        "create cr-new --ostemplate " + files.ostemplate.string() + " --private " + area.string();
    const auto whole_create = full_run(create);
    const auto whole_destroy = full_run("destroy cr-new");
    for (int point = 0; point < kKillPoints; ++point) {
      run_killed_after("ubcctl", create, kill_point(whole_create, point));
      check_after_kill("create, kill point " + std::to_string(point));
      if (!ubc::test::host().exists("cr-new")) {
        const auto again = ubcctl(create);
        REQUIRE_MESSAGE(again.status == 0, "create after kill point ", point, ": ", again.output);
      }
      CHECK(fs::exists(area / "sbin/init"));
      run_killed_after("ubcctl", "destroy cr-new", kill_point(whole_destroy, point));
      check_after_kill("destroy, kill point " + std::to_string(point));
      const auto finish = ubcctl("destroy cr-new");
      CHECK_MESSAGE((finish.status == 0 || finish.output.find("does not exist") != std::string::npos), finish.output);
      CHECK_FALSE(ubc::test::host().exists("cr-new"));
      CHECK_FALSE(fs::exists(area));
      CHECK(ubcctl("doctor --consistency").status == 0);
      fs::remove(ubc::config_dir() / "cr-new.conf.destroyed");
      fs::remove(ubc::config_dir() / "cr-new.conf");  // a create killed before its cgroup
    }
    report_half_done("create and destroy");
  }

  // The narrow window the timed kill points above only sometimes hit: after the CT's cgroup
  // is made and before its unpacked files move into place. The CT exists, so its files are
  // whole and belong in place: repair moves them there instead of removing them.
  TEST_CASE("a create killed after it made the CT: repair moves the CT's unpacked files into place") {
    Files files;
    const fs::path area = files.work / "private";
    REQUIRE(
        ubcctl("create cr-window --ostemplate " + files.ostemplate.string() + " --private " + area.string()).status ==
        0);
    const fs::path partial = ubc::partial_area(area);
    fs::rename(area, partial);  // the state a kill between the two steps leaves
    const auto check = ubcctl("doctor --consistency");
    CHECK_MESSAGE(check.status == kRepairable, check.output);
    CHECK_MESSAGE(check.output.find("the files of CT cr-window") != std::string::npos, check.output);
    const auto repaired = ubcctl("doctor --repair");
    CHECK_MESSAGE(repaired.status == 0, repaired.output);
    CHECK(fs::exists(area / "sbin/init"));
    CHECK_FALSE(fs::exists(partial));
    CHECK(ubcctl("doctor --consistency").status == 0);
    CHECK(ubcctl("destroy cr-window").status == 0);
    CHECK_FALSE(fs::exists(area));
  }

  TEST_CASE("start killed anywhere: the CT is running or stopped, never an init nobody knows of") {
    Files files;
    REQUIRE(ubcctl("create cr-start --root " + files.root.string()).status == 0);
    const auto whole = full_run("start cr-start");
    int running_points = 0;
    REQUIRE(ubcctl("stop cr-start").status == 0);
    for (int point = 0; point < kKillPoints; ++point) {
      run_killed_after("ubcctl", "start cr-start", kill_point(whole, point));
      check_after_kill("start, kill point " + std::to_string(point));
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // an init given up exits
      const auto status = ubcctl("status cr-start");
      const bool running = status.output.find(" running") != std::string::npos;
      const bool populated = [&] {
        std::ifstream events(ubc::test::host().cgroup_of("cr-start") / "cgroup.events");
        std::string line;
        while (std::getline(events, line))
          if (line == "populated 1") return true;
        return false;
      }();
      CHECK_MESSAGE((running || !populated), "kill point ", point,
                    ": processes in the CT but no init: ", status.output);
      running_points += running;
      if (running || populated) CHECK(ubcctl("stop cr-start").status == 0);
    }
    MESSAGE("start: ", running_points, " of ", kKillPoints, " kill points left the CT running");
    report_half_done("start");
    CHECK(ubcctl("destroy cr-start").status == 0);
  }

  TEST_CASE("reload killed anywhere, in ubcctl or in ubcd: nothing broken, ubcd starts again") {
    for (const char* id : {"cr-r1", "cr-r2", "cr-r3"}) REQUIRE(ubcctl(std::string("create ") + id).status == 0);
    for (const char* id : {"cr-r1", "cr-r2", "cr-r3"})
      std::ofstream(ubc::config_dir() / (std::string(id) + ".conf")) << "NUMFILE=\"300\"\nNUMPROC=\"40:50\"\n";
    const auto whole = full_run("reload");
    for (int point = 0; point < kKillPoints; ++point) {
      run_killed_after("ubcctl", "reload", kill_point(whole, point));
      check_after_kill("ubcctl reload, kill point " + std::to_string(point));
    }
    // ubcd: started, asked to reload, killed at points over its start and the reload.
    for (int point = 0; point < kKillPoints; ++point) {
      const pid_t daemon = ::fork();
      REQUIRE(daemon >= 0);
      if (daemon == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execl((build_bin() / "ubcd").c_str(), "ubcd", "--listen", "127.0.0.1:19478", static_cast<char*>(nullptr));
        ::_exit(127);
      }
      std::this_thread::sleep_for(kill_point(whole, point));
      ::kill(daemon, SIGHUP);
      std::this_thread::sleep_for(kill_point(whole, point));
      ::kill(daemon, SIGKILL);
      ::waitpid(daemon, nullptr, 0);
      check_after_kill("ubcd, kill point " + std::to_string(point));
    }
    report_half_done("reload");
    CHECK(ubcctl("reload").status == 0);
    CHECK(ubc::test::host().counter("cr-r2", UBC_NUMPROC).limit == 50);
    for (const char* id : {"cr-r1", "cr-r2", "cr-r3"}) CHECK(ubcctl(std::string("destroy ") + id).status == 0);
  }
}
