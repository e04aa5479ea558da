// ubc's sched_ext scheduler (bpf/ubc_sched.bpf.c) in a real kernel: it becomes the scheduler
// of every task, shares CPUs between CTs by cpuunits and inside a CT by nice, caps by
// cpulimit, takes changes while CTs run, survives CTs coming and going and tasks moving
// between them, reports an ejection, and unloads cleanly. CPU time is read from the
// kernel's own accounting (cgroup cpu.stat, /proc/PID/stat), never from the scheduler.
// Tolerances are generous (TCG vCPUs, seconds-long runs); tests/bench carries tight goals.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../bench/command_race.h"
#include "../bench/hogs.h"
#include "cpu_load.h"
#include "loader/cgroup.h"
#include "loader/scheduler.h"
#include "running_ct.h"
#include "ubc/cpu_control.h"
#include "workload.h"

using ubc::test::burn;
using ubc::test::host;
using ubc::test::ScopedCt;
using ubc::test::ubcctl;
using ubc::test::usage_usec;

namespace {

std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

bool have_sched_ext() {
  if (auto reason = ubc::Scheduler::unavailable_reason()) {
    MESSAGE("SKIP: " << *reason);
    return false;
  }
  return true;
}

// Loads ubc's scheduler for one test and unloads it after, checking both went cleanly. A
// test that ran `ubcctl load` (which loads the scheduler too) may have left one loaded:
// this test's own starts from a fresh load.
class LoadedScheduler {
 public:
  LoadedScheduler() {
    if (ubc::CpuControl(host()).scheduler_loaded()) REQUIRE(ubcctl("sched unload").status == 0);
    const auto run = ubcctl("sched load");
    REQUIRE_MESSAGE(run.status == 0, run.output);
  }
  ~LoadedScheduler() {
    if (ubc::CpuControl(host()).scheduler_loaded()) {
      const auto run = ubcctl("sched unload");
      CHECK_MESSAGE(run.status == 0, run.output);
    }
    CHECK(first_line("/sys/kernel/sched_ext/state") == "disabled");
  }
  LoadedScheduler(const LoadedScheduler&) = delete;
  LoadedScheduler& operator=(const LoadedScheduler&) = delete;
};

bool have_cpus(int needed) {
  if (ubc::test::online_cpus() >= needed) return true;
  MESSAGE("SKIP: needs " << needed << " CPUs or more, this machine has " << ubc::test::online_cpus());
  return false;
}

ubc::Scheduler scheduler() {
  return ubc::Scheduler::open(host().paths().pin_dir);
}

bool on_path(const std::string& command) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && access((dir + "/" + command).c_str(), X_OK) == 0) return true;
  return false;
}

bool ubc_runs() {
  return ubc::Scheduler::running_ops().value_or("") == "ubc";
}

// Why the kernel ejected the scheduler, for a failed CHECK(ubc_runs()).
std::string ejection() {
  if (!ubc::CpuControl(host()).scheduler_loaded()) return "the scheduler is not pinned";
  const auto exit = scheduler().exit_info();
  if (!exit) return "no exit recorded";
  return "ejected: kind " + std::to_string(exit->kind) + ", " + exit->reason + ": " + exit->message;
}

// A busy process in a cgroup, pinned to one CPU, whose affinity the test changes while it
// runs; killed at scope exit.
class Spinner {
 public:
  Spinner(const std::filesystem::path& cgroup, int cpu) {
    const std::string procs = (cgroup / "cgroup.procs").string();
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {  // only async-signal-safe calls from here
      const int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, "0", 1) != 1) _exit(1);
      close(fd);
      pin(0, cpu);
      for (;;) {
      }
    }
  }
  ~Spinner() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;

  void move_to(int cpu) const { REQUIRE(pin(pid_, cpu) == 0); }
  // The CPU time the kernel has charged it.
  double cpu_seconds() const {
    clockid_t clock;
    timespec now{};
    REQUIRE(clock_getcpuclockid(pid_, &clock) == 0);
    REQUIRE(clock_gettime(clock, &now) == 0);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
  }

 private:
  static int pin(pid_t pid, int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(pid, sizeof set, &set);
  }
  pid_t pid_ = -1;
};

// The share of one CPU `late` gets in the `seconds` after it joins two spinners that have
// had CPU 1 to themselves while it had CPU 0 to itself: ideally a third.
double share_after_joining(const std::filesystem::path& late_cgroup, const std::filesystem::path& first_cgroup,
                           const std::filesystem::path& second_cgroup, double seconds) {
  Spinner first(first_cgroup, 1), second(second_cgroup, 1), late(late_cgroup, 0);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  late.move_to(1);
  const double start = late.cpu_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  return (late.cpu_seconds() - start) / seconds;
}

std::uint64_t group_runtime_ns(const ScopedCt& ct) {
  const auto slot = host().slot_index(ct.id());
  REQUIRE(slot);
  return scheduler().groups()[*slot].runtime_ns;
}

}  // namespace

TEST_SUITE("sched") {
  TEST_CASE("loads as the scheduler of every task, stays after ubcctl exits, unloads cleanly") {
    if (!have_sched_ext()) return;
    {
      LoadedScheduler loaded;
      CHECK_MESSAGE(ubc_runs(), ejection());
      // switch_all: the kernel moved every SCHED_NORMAL task to the BPF scheduler.
      CHECK(first_line("/sys/kernel/sched_ext/switch_all") == "1");
      ScopedCt ct("sched-every");
      burn(ct, 1, 1).join();
      CHECK(group_runtime_ns(ct) > 500'000'000ULL);  // the CT's busy second went through it
      CHECK(scheduler().groups()[UBC_SCHED_HOST_SLOT].runtime_ns > 0);
      const auto status = ubcctl("sched status");
      CHECK(status.output.find("CPU scheduler: sched_ext:ubc") != std::string::npos);
      CHECK(status.output.find("sched-every") != std::string::npos);
      CHECK_FALSE(scheduler().exit_info());
    }
    CHECK_FALSE(ubc::Scheduler::running_ops());
    CHECK(ubcctl("show").status == 0);  // the engine is untouched by the unload
  }

  TEST_CASE("a process that loads and unloads it (ubcd, the benchmark) leaves no reference behind") {
    if (!have_sched_ext()) return;
    ubc::CpuControl(host()).load_scheduler();
    CHECK(ubc_runs());
    ubc::CpuControl(host()).unload_scheduler();  // throws if the kernel still runs it 10 s later
    CHECK(first_line("/sys/kernel/sched_ext/state") == "disabled");
  }

  TEST_CASE("CTs at cpuunits 1000 and 3000 share saturated CPUs about 1:3") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    ScopedCt light("sched-light");
    ScopedCt heavy("sched-heavy");
    REQUIRE(ubcctl("set sched-light --cpuunits 1000").status == 0);
    REQUIRE(ubcctl("set sched-heavy --cpuunits 3000").status == 0);
    // Hogs that start together (a shell per hog would start them seconds apart under TCG).
    ubc::bench::HogRace race;
    for (int hog = 0; hog < 2 * ubc::test::online_cpus(); ++hog) {
      race.add({host().cgroup_of(light.id()), 0, -1, 1});
      race.add({host().cgroup_of(heavy.id()), 0, -1, 3});
    }
    const auto results = race.run(std::chrono::seconds(5));
    const double light_used = ubc::bench::group_seconds(results, 1);
    const double heavy_used = ubc::bench::group_seconds(results, 3);
    const double ratio = heavy_used / light_used;
    MESSAGE("sched_ext: cpuunits 3000 vs 1000 got " << heavy_used << " s vs " << light_used << " s: ratio " << ratio
                                                    << " (ideal 3)");
    CHECK(ratio > 2.4);
    CHECK(ratio < 3.75);
    CHECK_MESSAGE(ubc_runs(), ejection());
  }

  TEST_CASE("the host group (tasks outside all CTs) shares by `set 0 --cpuunits`, changed live") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    ScopedCt ct("sched-beside-host");
    REQUIRE(ubcctl("set sched-beside-host --cpuunits 1000").status == 0);
    const auto set_host = ubcctl("set 0 --cpuunits 3000");
    REQUIRE_MESSAGE(set_host.status == 0, set_host.output);
    CHECK(scheduler().groups()[UBC_SCHED_HOST_SLOT].weight == 300);
    ubc::bench::HogRace race;
    for (int hog = 0; hog < 2 * ubc::test::online_cpus(); ++hog) {
      race.add({{}, 0, -1, 0});  // stays in this test's own cgroup: the host group
      race.add({host().cgroup_of(ct.id()), 0, -1, 1});
    }
    const auto results = race.run(std::chrono::seconds(5));
    const double ratio = ubc::bench::group_seconds(results, 0) / ubc::bench::group_seconds(results, 1);
    MESSAGE("host group at cpuunits 3000 vs a CT at 1000: ratio " << ratio << " (ideal 3)");
    CHECK(ratio > 2.4);
    CHECK(ratio < 3.75);
    CHECK(ubcctl("set 0 --cpuunits 1000").status == 0);
    CHECK(scheduler().groups()[UBC_SCHED_HOST_SLOT].weight == 100);
    CHECK(ubcctl("set 0 --cpulimit 50").status != 0);  // the host takes --cpuunits only
  }

  TEST_CASE("inside a CT, nice 0 and nice 5 share one CPU in the kernel's weight ratio") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    ScopedCt ct("sched-nice");
    // Both on CPU 0, so they compete; each prints its pid, then spins for 4 s.
    const std::string spin =
        "bash -c \"echo \\$\\$; end=\\$((SECONDS+4)); while [ \\$SECONDS -lt \\$end ]; do :; done\"";
    std::thread run([&] {
      const auto result = ubcctl("exec sched-nice -- bash -c 'taskset -c 0 " + spin + " & taskset -c 0 nice -n 5 " +
                                 spin + " & sleep 2; cat /proc/[0-9]*/stat > /tmp/ubc-nice-stat; wait'");
      CHECK_MESSAGE(result.status == 0, result.output);
    });
    run.join();
    // The stat snapshot taken at 2 s holds both spinners' times (comm "bash", nice 0 / 5).
    std::ifstream in("/tmp/ubc-nice-stat");
    std::string line;
    double nice0 = 0, nice5 = 0;
    while (std::getline(in, line)) {
      const auto close = line.rfind(')');
      if (close == std::string::npos || line.find("(bash)") == std::string::npos) continue;
      std::istringstream fields(line.substr(close + 2));
      std::string field;
      double utime = 0;
      long nice = 0;
      for (int index = 3; fields >> field; ++index) {
        if (index == 14) utime = std::stod(field);
        if (index == 19) {
          nice = std::stol(field);
          break;
        }
      }
      if (utime < 10) continue;  // the wrapper shells, not the spinners
      if (nice == 5)
        nice5 = std::max(nice5, utime);
      else if (nice == 0)
        nice0 = std::max(nice0, utime);
    }
    REQUIRE(nice0 > 0);
    REQUIRE(nice5 > 0);
    const double ratio = nice0 / nice5;
    MESSAGE("nice 0 vs nice 5 on one CPU: " << nice0 << " vs " << nice5 << " ticks, ratio " << ratio
                                            << " (kernel weights 1024/335 = 3.06)");
    CHECK(ratio > 2.0);
    CHECK(ratio < 4.5);
  }

  TEST_CASE("cpulimit caps a CT, and a change made while it runs applies at once") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    ScopedCt ct("sched-capped");
    REQUIRE(ubcctl("set sched-capped --cpulimit 25").status == 0);
    // The hogs outlast both windows by seconds: each `ubcctl set` between them can take a
    // second or more on a loaded host (once, the hogs had ended before the second window).
    auto hogs = burn(ct, 2, 14);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const std::uint64_t start = usage_usec(ct);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const std::uint64_t at_25 = usage_usec(ct);
    REQUIRE(ubcctl("set sched-capped --cpulimit 100").status == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const std::uint64_t raised = usage_usec(ct);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const std::uint64_t at_100 = usage_usec(ct);
    hogs.join();
    const double share_25 = static_cast<double>(at_25 - start) / 3e6;
    const double share_100 = static_cast<double>(at_100 - raised) / 3e6;
    MESSAGE("cpulimit 25 -> " << share_25 * 100 << "% of one CPU; raised live to 100 -> " << share_100 * 100 << "%");
    // Periods run on a fixed grid, so a late wake-up at a period's end does not shorten the
    // next (they used to start when noticed: 19-21% here under multi-threaded TCG).
    CHECK(share_25 > 0.21);
    CHECK(share_25 < 0.31);
    CHECK(share_100 > 0.85);
    CHECK(share_100 < 1.10);
    CHECK_MESSAGE(ubc_runs(), ejection());
  }

  TEST_CASE("a running task that moves itself into a capped CT is capped at once") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    ScopedCt ct("sched-joined");
    REQUIRE(ubcctl("set sched-joined --cpulimit 25").status == 0);
    // Each hog writes its own pid to the CT's cgroup.procs while it runs, and then never
    // sleeps: only the move itself can switch the group it is charged to.
    ubc::bench::HogRace race;
    for (int hog = 0; hog < 2; ++hog) race.add({host().cgroup_of(ct.id()), 0, -1, 0});
    const double seconds = 4;
    const double share = ubc::bench::group_seconds(race.run(std::chrono::seconds(4)), 0) / seconds;
    MESSAGE("cpulimit 25, hogs that joined while running: " << share * 100 << "% of one CPU");
    CHECK(share > 0.15);
    CHECK(share < 0.32);
    CHECK_MESSAGE(ubc_runs(), ejection());
  }

  // A hostile CT: a read of /proc/user_beancounters costs its /proc view's server (a host
  // process) far more CPU than it costs the reader, so a capped CT that reads it in a loop
  // would spend the host's CPU past its cpulimit if the server ran as a host task.
  TEST_CASE("a CT that keeps its /proc view server busy stays within its cpulimit, the server's time included") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    ubc::test::RunningCt ct("sched-procview", "");
    REQUIRE(ubcctl("set sched-procview --cpulimit 20").status == 0);
    const auto load = ubc::test::reread_beancounters(ct.id(), 5);
    MESSAGE("cpulimit 20, " << load.reads << " reads of user_beancounters in " << load.seconds << " s: the CT used "
                            << load.ct_share * 100 << "% of one CPU, its helpers " << load.helper_share * 100 << "%");
    CHECK(load.helper_share > 0.02);  // the server did work for the CT
    CHECK(load.ct_share + load.helper_share < 0.30);
    CHECK_MESSAGE(ubc_runs(), ejection());
  }

  // The level-one tree sets aside a group whose queued tasks may not run on the CPU that
  // popped it; after three such groups that CPU scans them all. Four CTs pinned to CPU 0
  // with a larger weight (so they always come first in the tree) must not keep CPU 1 from
  // running the one CT that may run there.
  TEST_CASE("CTs pinned to one CPU that come first at level one do not keep another CPU idle") {
    if (!have_sched_ext() || !have_cpus(2)) return;
    LoadedScheduler loaded;
    std::vector<std::unique_ptr<ScopedCt>> pinned;
    for (int ct = 0; ct < 4; ++ct) {
      pinned.push_back(std::make_unique<ScopedCt>("sched-pinned-" + std::to_string(ct)));
      REQUIRE(ubcctl("set " + pinned.back()->id() + " --cpuunits 4000").status == 0);
    }
    ScopedCt free_ct("sched-free");
    const auto misses_before = scheduler().stats()[UBC_SCHED_STAT_AFFINITY_MISS];
    ubc::bench::HogRace race;
    for (const auto& ct : pinned)
      for (int hog = 0; hog < 2; ++hog) race.add({host().cgroup_of(ct->id()), 0, 0, 0});
    race.add({host().cgroup_of(free_ct.id()), 0, -1, 1});
    const double seconds = 4;
    const auto results = race.run(std::chrono::seconds(4));
    const double pinned_share = ubc::bench::group_seconds(results, 0) / seconds;
    const double free_share = ubc::bench::group_seconds(results, 1) / seconds;
    const auto misses = scheduler().stats()[UBC_SCHED_STAT_AFFINITY_MISS] - misses_before;
    MESSAGE("4 CTs pinned to CPU 0 at cpuunits 4000: " << pinned_share * 100
                                                       << "% of one CPU; the unpinned CT at 1000: " << free_share * 100
                                                       << "%; affinity misses " << misses);
    CHECK(pinned_share > 0.8);
    CHECK(free_share > 0.8);  // CPU 1 is all its own: nothing else may run there
    CHECK(misses > 0);        // the picks did meet the pinned groups first
    CHECK_MESSAGE(ubc_runs(), ejection());
  }

  // A task that had an idle CPU to itself ran far ahead, in vtime, of the tasks sharing
  // another CPU, without taking anything from them. When it joins their CPU it gets its share
  // at once, neither starved for its old lead nor credited beyond it: the limits on a task's
  // and a group's lead (one slice) and the floor of the tasks that queue (one slice behind
  // the newest) keep the three within a slice of each other, at both levels.
  TEST_CASE("a task that ran alone on an idle CPU gets its share at once when it joins a busy one") {
    if (!have_sched_ext() || !have_cpus(2)) return;
    LoadedScheduler loaded;
    const double seconds = 2;
    SUBCASE("level two: three tasks of one CT") {
      ScopedCt ct("sched-lead");
      const auto cgroup = host().cgroup_of(ct.id());
      const double share = share_after_joining(cgroup, cgroup, cgroup, seconds);
      MESSAGE("the task that joined got " << share * 100 << "% of the CPU it joined (ideal 33%)");
      CHECK(share > 0.2);
      CHECK(share < 0.5);
    }
    SUBCASE("level one: three CTs at the same cpuunits") {
      ScopedCt late("sched-lead-late"), first("sched-lead-a"), second("sched-lead-b");
      const double share = share_after_joining(host().cgroup_of(late.id()), host().cgroup_of(first.id()),
                                               host().cgroup_of(second.id()), seconds);
      MESSAGE("the CT that joined got " << share * 100 << "% of the CPU it joined (ideal 33%)");
      CHECK(share > 0.2);
      CHECK(share < 0.5);
    }
    CHECK_MESSAGE(ubc_runs(), ejection());
  }

  // Hundreds of runnable tasks in one vtime-ordered queue. A task that ran out of order (woken
  // straight onto an idle CPU) used to keep its whole lead and wait until every queued task
  // had caught up with it, one short hackbench run at a time: under `tools/ubc-vm --icount`
  // that was 11-12 s, and the kernel's watchdog ejected the scheduler at 10 s. The
  // sched_icount_vm suite runs this case under --icount, where it failed before the fix.
  TEST_CASE("hundreds of runnable tasks in one CT: none waits in the queue for seconds") {
    if (!have_sched_ext()) return;
    if (!on_path("hackbench")) {
      MESSAGE("SKIP: hackbench (rt-tests) is not installed");
      return;
    }
    LoadedScheduler loaded;
    ScopedCt ct("sched-crowd");
    ubc::bench::CommandRace race;
    for (int copy = 0; copy < 100; ++copy)  // 5 tasks each: a parent, 2 senders, 2 receivers
      race.add(host().cgroup_of(ct.id()), {"hackbench", "-g", "1", "-f", "2", "-l", "300"});
    const double seconds = race.run();
    const auto stats = scheduler().stats();
    const double longest = static_cast<double>(stats[UBC_SCHED_STAT_LONGEST_WAIT_NS]) / 1e9;
    MESSAGE("100 hackbench copies in one CT: " << seconds << " s; " << stats[UBC_SCHED_STAT_WAITS] << " queue waits, "
                                               << stats[UBC_SCHED_STAT_WAITS_OVER_1S] << " of 1 s or more, the longest "
                                               << longest << " s");
    CHECK_MESSAGE(ubc_runs(), ejection());
    CHECK(stats[UBC_SCHED_STAT_WAITS] > 1000);  // the tasks did queue
    CHECK(longest < 3.0);
  }

  // More CTs out of quota at once than one pick takes from the tree (8): they wait in the
  // throttled tree, come back each period, keep their caps, and the CPUs stay busy with
  // the CT that has no cap.
  TEST_CASE("a dozen capped CTs keep their cpulimit and the rest of the CPUs goes to an uncapped one") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    constexpr int kCapped = 12;
    std::vector<std::unique_ptr<ScopedCt>> capped;
    for (int ct = 0; ct < kCapped; ++ct) {
      capped.push_back(std::make_unique<ScopedCt>("sched-cap-" + std::to_string(ct)));
      REQUIRE(ubcctl("set " + capped.back()->id() + " --cpulimit 5").status == 0);
    }
    ScopedCt open_ct("sched-open");
    ubc::bench::HogRace race;
    for (int ct = 0; ct < kCapped; ++ct) race.add({host().cgroup_of(capped[ct]->id()), 0, -1, ct});
    for (int hog = 0; hog < ubc::test::online_cpus(); ++hog) race.add({host().cgroup_of(open_ct.id()), 0, -1, kCapped});
    const double seconds = 5;
    const auto results = race.run(std::chrono::seconds(5));
    double capped_min = 1, capped_max = 0, capped_total = 0;
    for (int ct = 0; ct < kCapped; ++ct) {
      const double share = ubc::bench::group_seconds(results, ct) / seconds;
      capped_min = std::min(capped_min, share);
      capped_max = std::max(capped_max, share);
      capped_total += share;
    }
    const double open_share = ubc::bench::group_seconds(results, kCapped) / seconds;
    MESSAGE(kCapped << " CTs at cpulimit 5: " << capped_min * 100 << "%.." << capped_max * 100
                    << "% of one CPU each; the uncapped CT: " << open_share * 100 << "%; all: "
                    << (capped_total + open_share) * 100 << "% of " << ubc::test::online_cpus() * 100 << "%");
    CHECK(capped_min > 0.02);
    CHECK(capped_max < 0.08);
    CHECK(capped_total + open_share > 0.85 * ubc::test::online_cpus());  // work conserving
    CHECK_MESSAGE(ubc_runs(), ejection());
  }

  TEST_CASE("survives CTs created and destroyed under load and a task moved between CTs") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    ScopedCt from("sched-from");
    ScopedCt to("sched-to");
    auto hog = burn(from, 1, 6);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    // Move every task of `from` (its busy process) into `to`.
    const auto from_cgroup = host().cgroup_of(from.id()), to_cgroup = host().cgroup_of(to.id());
    std::istringstream procs(ubc::cgroup::read_file(from_cgroup / "cgroup.procs"));
    int moved = 0;
    for (std::string pid; procs >> pid; ++moved) ubc::cgroup::write_file(to_cgroup / "cgroup.procs", pid);
    REQUIRE(moved > 0);
    const std::uint64_t from_at_move = group_runtime_ns(from), to_at_move = group_runtime_ns(to);
    for (int i = 0; i < 10; ++i) {  // churn: CTs come and go while the hog runs
      ScopedCt passing("sched-churn-" + std::to_string(i));
      burn(passing, 1, 0.2).join();
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const std::uint64_t from_after = group_runtime_ns(from), to_after = group_runtime_ns(to);
    MESSAGE("after the move: old CT +" << (from_after - from_at_move) / 1e6 << " ms, new CT +"
                                       << (to_after - to_at_move) / 1e6 << " ms");
    CHECK(to_after - to_at_move > 1'000'000'000ULL);  // the busy loop is charged to its new CT
    CHECK(from_after - from_at_move < 100'000'000ULL);
    hog.join();
    CHECK_MESSAGE(ubc_runs(), ejection());
    CHECK_FALSE(scheduler().exit_info());
  }

  TEST_CASE("an ejection by the kernel is reported with its reason, and tasks fall back") {
    if (!have_sched_ext()) return;
    LoadedScheduler loaded;
    {
      std::ofstream sysrq("/proc/sysrq-trigger");
      sysrq << 'S';  // SysRq-S: the kernel disables any BPF scheduler, as its watchdog would
    }
    for (int i = 0; i < 500 && first_line("/sys/kernel/sched_ext/state") != "disabled"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(first_line("/sys/kernel/sched_ext/state") == "disabled");
    const auto exit = scheduler().exit_info();
    REQUIRE(exit);
    CHECK(exit->kind == 67);  // SCX_EXIT_SYSRQ
    const auto doctor = ubcctl("doctor");
    CHECK_MESSAGE(doctor.output.find("ejected by the kernel: SysRq-S") != std::string::npos, doctor.output);
    CHECK(doctor.output.find("CPU scheduler: cfs+cgroup") != std::string::npos);
    ScopedCt ct("sched-after");
    burn(ct, 1, 1).join();  // tasks still run, on the fair class
    CHECK(usage_usec(ct) > 500'000);
  }
}
