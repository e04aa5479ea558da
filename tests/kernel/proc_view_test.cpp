// A CT's own resources, seen from inside through its /proc view (issue 17): meminfo, swaps,
// uptime, stat and cpuinfo give the CT's figures, and procps' free reads them.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loader/cgroup.h"
#include "running_ct.h"
#include "workload.h"

using ubc::test::RunningCt;
using ubc::test::ubcctl;

namespace fs = std::filesystem;

namespace {

double host_uptime() {
  double seconds = 0;
  std::ifstream("/proc/uptime") >> seconds;
  return seconds;
}

// The number after "key:" in a meminfo text, in kB; -1 if there is none.
long long meminfo_kib(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  return -1;
}

std::string last_line(const std::string& text) {
  const auto end = text.find_last_not_of('\n');
  return text.substr(text.rfind('\n', end) + 1, end - text.rfind('\n', end));
}

}  // namespace

TEST_SUITE("proc view") {
  TEST_CASE("inside a CT, meminfo, free, cpuinfo, stat and uptime show the CT's own memory, CPUs and time") {
    if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) {
      MESSAGE("SKIP: the CT's CPUs are only told from the host's with 2 CPUs or more");
      return;
    }
    const double host_up_before = host_uptime();
    RunningCt ct("ct-own-view", "", "free getconf");
    REQUIRE(ubcctl("set " + ct.id() + " --physpages 256M --cpus 1").status == 0);

    const auto meminfo = ct.exec("cat /proc/meminfo");
    REQUIRE(meminfo.status == 0);
    CAPTURE(meminfo.output);
    CHECK(meminfo_kib(meminfo.output, "MemTotal") == 262144);
    const long long free_kib = meminfo_kib(meminfo.output, "MemFree");
    CHECK(free_kib > 0);
    CHECK(free_kib < 262144);  // the CT's own processes use some
    // busybox cat splices (sendfile): the whole text comes through, to the host's last line.
    std::ifstream host_meminfo_file("/proc/meminfo");
    const std::string host_meminfo((std::istreambuf_iterator<char>(host_meminfo_file)), {});
    CHECK(last_line(meminfo.output).substr(0, 12) == last_line(host_meminfo).substr(0, 12));
    CHECK(ct.exec("wc -c < /proc/meminfo").output == std::to_string(meminfo.output.size()) + "\n");

    // procps' free, as a distribution's users run it.
    const auto free = ct.exec("free -b");
    CAPTURE(free.output);
    REQUIRE(free.status == 0);
    CHECK(free.output.find("Mem:       268435456 ") != std::string::npos);

    // A live change shows at the next read, and to a reader that keeps the file open and
    // reads it again from the start (as top does), as procfs gives it.
    pid_t init = 0;
    std::ifstream(ubc::test::run_dir() / (ct.id() + ".pid")) >> init;
    REQUIRE(init > 0);
    const std::string through_root = "/proc/" + std::to_string(init) + "/root/proc/meminfo";
    const int kept = ::open(through_root.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(kept >= 0);
    const auto read_kept = [kept] {
      std::string text(8192, '\0');
      const ssize_t got = ::pread(kept, text.data(), text.size(), 0);
      text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
      return text;
    };
    CHECK(meminfo_kib(read_kept(), "MemTotal") == 262144);
    REQUIRE(ubcctl("set " + ct.id() + " --physpages 128M").status == 0);
    CHECK(meminfo_kib(ct.exec("cat /proc/meminfo").output, "MemTotal") == 131072);
    CHECK(meminfo_kib(read_kept(), "MemTotal") == 131072);
    ::close(kept);

    // One CPU: cpuinfo lists one, stat has the total and cpu0, nproc agrees.
    CHECK(ct.exec("grep -c ^processor /proc/cpuinfo").output == "1\n");
    CHECK(ct.exec("grep -c ^cpu /proc/stat").output == "2\n");
    CHECK(ct.exec("nproc").output == "1\n");
    // sysfs's online list is the CT's cpuset (bound over it from the view), and glibc counts it.
    const std::string cpuset = ubc::cgroup::first_line(ubc::test::host().cgroup_of(ct.id()) / "cpuset.cpus.effective");
    CHECK(ct.exec("cat /sys/devices/system/cpu/online").output == cpuset + "\n");
    CHECK(ct.exec("getconf _NPROCESSORS_ONLN").output == "1\n");
    CHECK(ct.exec("umount /sys/devices/system/cpu/online").status != 0);
    CHECK(ct.exec("echo 0-1 > /sys/devices/system/cpu/online").status != 0);
    // The CT's CPU time: a busy second in the CT shows in its user and system time.
    const auto stat = ct.exec(
        "set -- $(head -1 /proc/stat); before=$(($2 + $4)); end=$(($(date +%s) + 2)); "
        "while [ $(date +%s) -lt $end ]; do :; done; set -- $(head -1 /proc/stat); echo $(($2 + $4 - before))");
    CAPTURE(stat.output);
    CHECK(std::atol(stat.output.c_str()) >= 50);  // in ticks of 1/100 s: at least half a second

    // Uptime: since the CT started, not since the host booted.
    const auto uptime = ct.exec("cat /proc/uptime");
    CAPTURE(uptime.output);
    const double ct_up = std::atof(uptime.output.c_str());
    CHECK(ct_up >= 0);
    CHECK(ct_up <= host_uptime() - host_up_before + 1);

    // Root in the CT cannot change what it is told.
    CHECK(ct.exec("echo 1 > /proc/meminfo").status != 0);
    CHECK(ct.exec("ls -l /proc/meminfo").output.starts_with("-r--r--r--    1 root     root"));
    CHECK(ct.exec("grep -c Filename /proc/swaps").output == "1\n");
  }

  TEST_CASE("inside a CT, sysinfo() agrees with its meminfo, in exec, enter and init's own processes") {
    RunningCt ct("ct-sysinfo", "");
    REQUIRE(ubcctl("set " + ct.id() + " --physpages 256M --save").status == 0);
    const std::string total = "totalram=268435456 ";
    const auto in_exec = ct.exec("ubc-escape sysinfo; cat /proc/uptime");
    CAPTURE(in_exec.output);
    CHECK(in_exec.output.find(total) != std::string::npos);
    struct sysinfo host {};
    REQUIRE(::sysinfo(&host) == 0);
    const auto field = [](const std::string& text, const std::string& key) {
      const auto at = text.find(key + "=");
      return at == std::string::npos ? -1.0 : std::strtod(text.c_str() + at + key.size() + 1, nullptr);
    };
    const double ct_procs = field(in_exec.output, "procs"), ct_uptime = field(in_exec.output, "uptime");
    CHECK(ct_procs >= 2);  // init and this shell, at least
    CHECK(ct_procs < host.procs);
    const double proc_uptime = std::strtod(in_exec.output.substr(in_exec.output.find('\n') + 1).c_str(), nullptr);
    CHECK(ct_uptime <= proc_uptime + 1);  // the CT's time up, not the host's
    CHECK(ct_uptime >= proc_uptime - 5);
    // enter's shell, and what the CT's init starts (its own seccomp listener).
    const auto entered = ubc::test::shell("echo \"ubc-escape sysinfo; exit\" | " +
                                          (fs::read_symlink("/proc/self/exe").parent_path() / "ubcctl").string() +
                                          " enter " + ct.id() + " 2>&1");
    CHECK_MESSAGE(entered.output.find(total) != std::string::npos, entered.output);
    {
      std::ofstream init(ct.root() / "sbin/sysinfo-init");
      init << "#!/bin/sh\nubc-escape sysinfo > /sysinfo-at-boot\nexec /sbin/init\n";
    }
    fs::permissions(ct.root() / "sbin/sysinfo-init", fs::perms::owner_all | fs::perms::group_read |
                                                         fs::perms::group_exec | fs::perms::others_read |
                                                         fs::perms::others_exec);
    REQUIRE(ubcctl("set " + ct.id() + " --init /sbin/sysinfo-init").status == 0);
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    std::string at_boot;
    for (int i = 0; i < 100 && at_boot.find('\n') == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      at_boot = ct.exec("cat /sysinfo-at-boot 2>/dev/null").output;
    }
    CHECK_MESSAGE(at_boot.find(total) != std::string::npos, at_boot);
    // A bad address is the caller's EFAULT, as the kernel's would be, and the server goes on.
    CHECK(ct.exec("ubc-escape sysinfo-at 1").output == "EFAULT\n");
    CHECK(ct.exec("ubc-escape sysinfo").output.find(total) != std::string::npos);
  }

  TEST_CASE("inside a CT, diskstats shows the devices it did I/O on, with its own counts") {
    // A loop device of the host's, granted to the CT read-only; the CT reads its first MiB.
    const std::filesystem::path image = std::filesystem::temp_directory_path() / "ubc-diskstats.img";
    REQUIRE(std::system(("truncate -s 8M " + image.string()).c_str()) == 0);
    const auto attached = ubc::test::shell("modprobe loop 2>/dev/null; losetup --find --show " + image.string());
    if (attached.status != 0) {
      MESSAGE("SKIP: no loop device here (losetup: " << attached.output << ")");
      return;
    }
    const std::string device = attached.output.substr(5, attached.output.find('\n') - 5);  // "loopN"
    {
      RunningCt ct("ct-disk", "--userns no");  // the host node is root:disk 0660
      REQUIRE(ubcctl("set " + ct.id() + " --devices " + device + ":r").status == 0);
      REQUIRE(ubcctl("restart " + ct.id()).status == 0);
      CHECK(ct.exec("cat /proc/diskstats").output.empty());  // no I/O yet: no device
      REQUIRE(ct.exec("dd if=/dev/" + device + " of=/dev/null bs=4096 count=256 2>&1").status == 0);
      const auto stats = ct.exec("cat /proc/diskstats");
      CAPTURE(stats.output);
      std::istringstream line(stats.output);
      unsigned major = 0, minor = 0;
      std::string name;
      unsigned long long reads = 0, merged = 1, sectors = 0;
      line >> major >> minor >> name >> reads >> merged >> sectors;
      CHECK(major == 7);
      CHECK(name == device);
      CHECK(reads >= 1);
      CHECK(merged == 0);
      CHECK(sectors >= 2048);  // the MiB read, in 512-byte sectors (readahead may add some)
      CHECK(std::count(stats.output.begin(), stats.output.end(), '\n') == 1);  // the host's other devices: none
    }
    std::system(("losetup -d /dev/" + device).c_str());
    std::filesystem::remove(image);
  }

  TEST_CASE("inside a CT, loadavg is the CT's own: the host's busy tasks do not show, its own do") {
    RunningCt ct("ct-own-load", "");
    const auto one_minute = [](const std::string& loadavg) { return std::atof(loadavg.c_str()); };
    // Four busy threads on the host, none in the CT, for four sampling periods: leaked into
    // the CT's figure they would add 4 x (1 - e^(-20/60)) = 1.1 to its one-minute load. The
    // CT's own start leaves a little (0.23 seen on a loaded CI host), hence the bound of 0.6.
    {
      std::atomic<bool> stop{false};
      std::vector<std::thread> spinners;
      for (int i = 0; i < 4; ++i)
        spinners.emplace_back([&stop] {
          while (!stop.load(std::memory_order_relaxed)) {
          }
        });
      std::this_thread::sleep_for(std::chrono::seconds(21));
      const auto inside = ct.exec("cat /proc/loadavg");
      std::ifstream host_file("/proc/loadavg");
      const std::string host((std::istreambuf_iterator<char>(host_file)), {});
      stop = true;
      for (auto& spinner : spinners) spinner.join();
      CAPTURE(inside.output);
      CAPTURE(host);
      CHECK(one_minute(host) >= 0.8);
      CHECK(one_minute(inside.output) < 0.6);
    }
    // Two busy processes in the CT for as long.
    const auto busy = ct.exec(
        "for i in 1 2; do (end=$(($(date +%s) + 21)); while [ $(date +%s) -lt $end ]; do :; done) & done; wait; "
        "cat /proc/loadavg");
    CAPTURE(busy.output);
    CHECK(one_minute(busy.output) >= 0.4);
    // "running/total": the CT's threads (init, its sleep, this shell and cat at least).
    const auto fields = ct.exec("set -- $(cat /proc/loadavg); echo $4").output;
    const auto slash = fields.find('/');
    REQUIRE(slash != std::string::npos);
    CHECK(std::atoi(fields.c_str() + slash + 1) >= 3);
  }
}
