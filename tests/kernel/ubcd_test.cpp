// ubcd in a real kernel: metrics equal to the engine's truth across a kill -9, hot reload
// on SIGHUP, a broken config refused without touching the running policy.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "loader/unique_fd.h"
#include "running_ct.h"
#include "ubc/ct_config.h"
#include "workload.h"

namespace fs = std::filesystem;
using ubc::test::ubcctl;

namespace {

constexpr int kPort = 19477;
const fs::path kLog = fs::temp_directory_path() / "ubcd-test.log";

std::string http_get(int port, const std::string& path) {
  ubc::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address)) return {};
  const timeval patience{20, 0};  // a server that never answers fails the test, not hangs it
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (::write(fd.get(), request.data(), request.size()) < 0) return {};
  std::string response;
  char buffer[8192];
  for (ssize_t got; (got = ::read(fd.get(), buffer, sizeof buffer)) > 0;) response.append(buffer, got);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : response.substr(body + 4);
}

// The value of one sample line "NAME{LABELS} VALUE" in a scrape; -1 when absent.
double sample(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + series.size() + 2));
}

// A scrape whose figures were read after this call (ubcd serves a snapshot, refreshed every
// --refresh seconds and after a reload): empty if none comes within 20 s.
std::string fresh_metrics() {
  const auto asked = std::chrono::steady_clock::now();
  for (int i = 0; i < 400; ++i) {
    const auto sent = std::chrono::steady_clock::now();
    const std::string metrics = http_get(kPort, "/metrics");
    const double age = sample(metrics, "ubc_snapshot_age_seconds");
    // Read at least `age` before it was served, which was after `sent`.
    if (age >= 0 && sent - std::chrono::duration<double>(age) > asked) return metrics;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {};
}

class Daemon {
 public:
  explicit Daemon(std::vector<std::string> options = {}) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const auto binary = fs::read_symlink("/proc/self/exe").parent_path() / "ubcd";
      const int log = ::open(kLog.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      ::dup2(log, 2);
      options.insert(options.begin(), {"ubcd", "--listen", "127.0.0.1:" + std::to_string(kPort)});
      std::vector<char*> argv;
      for (auto& option : options) argv.push_back(option.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && http_get(kPort, "/metrics").empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~Daemon() { stop(SIGTERM); }
  void stop(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void signal(int signal) const { ::kill(pid_, signal); }

 private:
  pid_t pid_ = -1;
};

std::string log_text() {
  std::ifstream in(kLog);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

nlohmann::json truth(const std::string& ctid) {
  return nlohmann::json::parse(ubcctl("show " + ctid + " --json").output)["containers"][0]["resources"]["numfile"];
}

}  // namespace

TEST_SUITE("ubcd") {
  TEST_CASE("kill -9 during a load loses nothing; metrics equal the engine's truth after a restart") {
    fs::remove(kLog);
    REQUIRE(ubcctl("create ubcd-load").status == 0);
    REQUIRE(ubcctl("set ubcd-load --numfile 25 --save").status == 0);
    const std::string series = "ubc_resource_failures_total{ct=\"ubcd-load\",resource=\"numfile\"}";
    {
      Daemon daemon;
      CHECK(sample(http_get(kPort, "/metrics"), series) == 0);
      // A load that keeps hitting the limit while ubcd is killed under it.
      std::thread load([] {
        ubcctl(
            "exec ubcd-load -- bash -c 'for i in $(seq 40); do (n=0; while [ $n -lt 60 ] && "
            "{ exec {fd}</dev/null; } 2>/dev/null; do n=$((n+1)); done); done'");
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      daemon.stop(SIGKILL);
      load.join();
    }
    const auto counted = truth("ubcd-load");
    CHECK(counted["failcnt"].get<int>() == 40);  // enforcement never paused
    CHECK(counted["maxheld"].get<int>() == 25);
    Daemon restarted;
    const std::string metrics = http_get(kPort, "/metrics");
    CHECK(sample(metrics, series) == counted["failcnt"].get<double>());
    CHECK(sample(metrics, "ubc_resource_maxheld{ct=\"ubcd-load\",resource=\"numfile\"}") == 25);
    CHECK(sample(metrics, "ubc_resource_held{ct=\"ubcd-load\",resource=\"numfile\"}") == counted["held"].get<double>());
    CHECK(log_text().find("refused: ct=ubcd-load resource=numfile") != std::string::npos);
    CHECK(ubcctl("destroy ubcd-load").status == 0);
  }

  TEST_CASE("SIGHUP applies a changed limit at once; a broken file changes nothing and says where") {
    fs::remove(kLog);
    REQUIRE(ubcctl("create ubcd-hup").status == 0);
    REQUIRE(ubcctl("set ubcd-hup --numfile 30 --save").status == 0);
    Daemon daemon;
    const fs::path config = ubc::config_dir() / "ubcd-hup.conf";
    std::ofstream(config) << "NUMFILE=\"40:50\"\n";
    daemon.signal(SIGHUP);
    nlohmann::json numfile;
    for (int i = 0; i < 100; ++i) {
      numfile = truth("ubcd-hup");
      if (numfile["barrier"] == 40) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(numfile["barrier"] == 40);
    CHECK(numfile["limit"] == 50);
    std::ofstream(config) << "NUMFILE=\"60\"\nNUMPROC=\"lots\"\n";
    daemon.signal(SIGHUP);
    for (int i = 0; i < 100 && log_text().find("refused, the running policy is unchanged") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(log_text().find("ubcd-hup.conf:2") != std::string::npos);
    CHECK(truth("ubcd-hup")["barrier"] == 40);  // NUMFILE's good line was not applied either
    // ubcctl reload reaches the daemon too.
    std::ofstream(config) << "NUMFILE=\"70\"\n";
    CHECK(ubcctl("reload").output.find("asked ubcd") != std::string::npos);
    for (int i = 0; i < 100 && truth("ubcd-hup")["barrier"] != 70; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(truth("ubcd-hup")["barrier"] == 70);
    daemon.stop(SIGTERM);
    CHECK(ubcctl("destroy ubcd-hup").status == 0);
  }

  TEST_CASE("a broken config: reload refused whole, ubcd lives on") {
    fs::remove(kLog);
    REQUIRE(ubcctl("create ubcd-a").status == 0);
    REQUIRE(ubcctl("create ubcd-b").status == 0);
    REQUIRE(ubcctl("set ubcd-a --numfile 30 --save").status == 0);
    std::ofstream(ubc::config_dir() / "ubcd-a.conf") << "NUMFILE=\"45\"\n";
    std::ofstream(ubc::config_dir() / "ubcd-b.conf") << "NUMFILE=\"lots\"\n";
    // Without ubcd, ubcctl reloads itself: refused, ubcd-a untouched.
    const auto refused = ubcctl("reload");
    CHECK(refused.status == 1);
    CHECK(refused.output.find("ubcd-b.conf:1") != std::string::npos);
    CHECK(truth("ubcd-a")["barrier"] == 30);
    // ubcd on SIGHUP: the same refusal, logged, and it keeps serving.
    Daemon daemon;
    daemon.signal(SIGHUP);
    for (int i = 0; i < 100 && log_text().find("SIGHUP: refused") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(log_text().find("ubcd-b.conf:1") != std::string::npos);
    CHECK(truth("ubcd-a")["barrier"] == 30);
    CHECK(http_get(kPort, "/metrics").find("ubc_engine_loaded") != std::string::npos);
    daemon.stop(SIGTERM);
    CHECK(log_text().find("terminate called") == std::string::npos);
    fs::remove(ubc::config_dir() / "ubcd-b.conf");
    CHECK(ubcctl("destroy ubcd-a").status == 0);
    CHECK(ubcctl("destroy ubcd-b").status == 0);
  }

  TEST_CASE("a CT whose cgroup another runtime recreated: reload frees the old slot and registers the new cgroup") {
    fs::remove(kLog);
    REQUIRE(ubcctl("create ubcd-r").status == 0);
    REQUIRE(ubcctl("set ubcd-r --numfile 30 --save").status == 0);
    const auto old_slot = ubc::test::host().slot_index("ubcd-r");
    REQUIRE(old_slot);
    // A Docker restart removes and makes the cgroup again: a new id the engine never saw.
    const fs::path recreated = ubc::test::host().cgroup_of("ubcd-r");
    REQUIRE(::rmdir(recreated.c_str()) == 0);
    REQUIRE(::mkdir(recreated.c_str(), 0755) == 0);
    CHECK(ubcctl("doctor --consistency").status == 3);  // repairable: a stale slot, a new cgroup
    Daemon daemon;
    daemon.signal(SIGHUP);
    for (int i = 0; i < 100 && log_text().find("SIGHUP: applied") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(log_text().find("repaired: slot " + std::to_string(*old_slot)) != std::string::npos);
    CHECK(log_text().find("repaired: CT ubcd-r: registered") != std::string::npos);
    CHECK(truth("ubcd-r")["barrier"] == 30);  // the saved limit, on the new cgroup
    const auto consistent = ubcctl("doctor --consistency");
    CHECK(consistent.status == 0);
    CHECK(consistent.output.find(": ok") != std::string::npos);
    daemon.stop(SIGTERM);
    CHECK(ubcctl("destroy ubcd-r").status == 0);
  }

  TEST_CASE("idle clients do not block /metrics") {
    Daemon daemon;
    std::vector<ubc::UniqueFd> idle;
    for (int i = 0; i < 3; ++i) {
      ubc::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<std::uint16_t>(kPort));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
      idle.push_back(std::move(fd));  // connected, and never a byte sent
    }
    const auto started = std::chrono::steady_clock::now();
    const std::string metrics = http_get(kPort, "/metrics");
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(metrics.find("ubc_engine_loaded") != std::string::npos);
    CHECK(took < std::chrono::seconds(10));
  }

  TEST_CASE("after unload and load under it, ubcd applies, reports and logs on the new engine") {
    fs::remove(kLog);
    REQUIRE(ubcctl("create ubcd-stale").status == 0);
    REQUIRE(ubcctl("set ubcd-stale --numfile 30 --save").status == 0);
    Daemon daemon;
    REQUIRE(ubcctl("unload").status == 0);
    REQUIRE(ubcctl("load").status == 0);
    ubc::test::reopen_host();
    std::ofstream(ubc::config_dir() / "ubcd-stale.conf") << "NUMFILE=\"3\"\n";
    daemon.signal(SIGHUP);
    for (int i = 0; i < 100 && truth("ubcd-stale")["barrier"] != 3; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(truth("ubcd-stale")["barrier"] == 3);  // the live engine, not the unloaded one
    CHECK(sample(fresh_metrics(), "ubc_resource_barrier{ct=\"ubcd-stale\",resource=\"numfile\"}") == 3);
    ubcctl("exec ubcd-stale -- bash -c 'exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null'");
    for (int i = 0; i < 100 && log_text().find("refused: ct=ubcd-stale") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(log_text().find("refused: ct=ubcd-stale resource=numfile") != std::string::npos);
    daemon.stop(SIGTERM);
    CHECK(ubcctl("destroy ubcd-stale").status == 0);
  }

  TEST_CASE("a scrape serves the last reading and its age; a change is served within --refresh") {
    REQUIRE(ubcctl("create ubcd-age").status == 0);
    REQUIRE(ubcctl("set ubcd-age --numfile 30 --save").status == 0);
    const std::string series = "ubc_resource_barrier{ct=\"ubcd-age\",resource=\"numfile\"}";
    Daemon daemon({"--refresh", "1"});
    const std::string first = http_get(kPort, "/metrics");
    CHECK(sample(first, series) == 30);
    const double duration = sample(first, "ubc_snapshot_duration_seconds");
    CHECK(duration > 0);
    CHECK(sample(first, "ubc_snapshot_age_seconds") >= 0);
    // Without a reload or a signal: the next reading has it, and no scrape is older than a
    // period (or nine readings, ubcd's cap on its own CPU) and a reading, with a second of
    // slack for the VM's scheduling.
    REQUIRE(ubcctl("set ubcd-age --numfile 40 --save").status == 0);
    const auto changed = std::chrono::steady_clock::now();
    double barrier = 0;
    double oldest = 0;
    while (barrier != 40 && std::chrono::steady_clock::now() - changed < std::chrono::seconds(20)) {
      const std::string metrics = http_get(kPort, "/metrics");
      barrier = sample(metrics, series);
      oldest = std::max(oldest, sample(metrics, "ubc_snapshot_age_seconds"));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(barrier == 40);
    CHECK(std::chrono::steady_clock::now() - changed < std::chrono::seconds(5));
    CHECK(oldest < std::max(1.0, 9 * duration) + duration + 1);
    // Other paths are not served.
    CHECK(http_get(kPort, "/").find("ubc_") == std::string::npos);
    daemon.stop(SIGTERM);
    CHECK(ubcctl("destroy ubcd-age").status == 0);
  }

  TEST_CASE("chkpnt and restore keep a CT's series: its counters never go back (no reset for rate())") {
    if (ubc::test::shell("criu --version >/dev/null 2>&1").status != 0) {
      MESSAGE("SKIP: no criu here (the VM image has it)");
      return;
    }
    const ubc::test::RunningCt ct("ubcd-ckpt", "");
    // Refused opens to count (not forks: the CT's init is a shell, which a refused fork ends),
    // and CPU time.
    const auto held = ubc::test::host().counter(ct.id(), UBC_NUMFILE).held;
    REQUIRE(ubcctl("set " + ct.id() + " --numfile " + std::to_string(held + 4)).status == 0);
    ct.exec(
        "for fd in 3 4 5 6 7 8 9; do eval \"exec $fd</dev/null\"; done; i=0; while [ $i -lt 20000 ]; do "
        "i=$((i+1)); done");
    // Room again: CRIU's parasite opens files in each task it dumps.
    REQUIRE(ubcctl("set " + ct.id() + " --numfile 300").status == 0);
    const std::string failures = "ubc_resource_failures_total{ct=\"ubcd-ckpt\",resource=\"numfile\"}";
    const std::string cpu = "ubc_cpu_usage_seconds_total{ct=\"ubcd-ckpt\"}";
    Daemon daemon({"--refresh", "1"});
    const std::string before = fresh_metrics();
    const double failed = sample(before, failures), used = sample(before, cpu);
    REQUIRE(failed > 0);
    REQUIRE(used > 0);

    const auto dumped = ubcctl("chkpnt " + ct.id());
    REQUIRE_MESSAGE(dumped.status == 0, dumped.output);
    // Stopped with its checkpoint: the series may rest, never fall.
    const std::string down = fresh_metrics();
    CHECK((sample(down, failures) == -1 || sample(down, failures) >= failed));
    CHECK((sample(down, cpu) == -1 || sample(down, cpu) >= used));

    const auto restored = ubcctl("restore " + ct.id());
    REQUIRE_MESSAGE(restored.status == 0, restored.output);
    const std::string after = fresh_metrics();
    CHECK(sample(after, failures) == failed);
    CHECK(sample(after, cpu) >= used);
    daemon.stop(SIGTERM);
  }

  TEST_CASE("a CT's block I/O: bytes, requests and stall time from its io.stat and io.pressure") {
    const fs::path image = fs::temp_directory_path() / "ubcd-io.img";
    REQUIRE(std::system(("truncate -s 8M " + image.string()).c_str()) == 0);
    const auto attached = ubc::test::shell("modprobe loop 2>/dev/null; losetup --find --show " + image.string());
    if (attached.status != 0) {
      MESSAGE("SKIP: no loop device here (losetup: " << attached.output << ")");
      return;
    }
    const std::string device = attached.output.substr(0, attached.output.find('\n'));
    REQUIRE(ubcctl("create ubcd-io").status == 0);
    // 32 direct reads of 64 KiB each: 2 MiB, charged to the CT's cgroup.
    const auto read =
        ubcctl("exec ubcd-io -- dd if=" + device + " of=/dev/null bs=64k count=32 iflag=direct status=none");
    REQUIRE_MESSAGE(read.status == 0, read.output);
    Daemon daemon({"--refresh", "1"});
    const std::string metrics = fresh_metrics();
    CHECK(sample(metrics, "ubc_io_read_bytes_total{ct=\"ubcd-io\"}") == 2 * 1024 * 1024);
    CHECK(sample(metrics, "ubc_io_reads_total{ct=\"ubcd-io\"}") >= 32);
    CHECK(sample(metrics, "ubc_io_written_bytes_total{ct=\"ubcd-io\"}") == 0);
    CHECK(sample(metrics, "ubc_io_writes_total{ct=\"ubcd-io\"}") == 0);
    CHECK(sample(metrics, "ubc_io_stalled_seconds_total{ct=\"ubcd-io\"}") >= 0);
    daemon.stop(SIGTERM);
    CHECK(ubcctl("destroy ubcd-io").status == 0);
    std::system(("losetup -d " + device).c_str());
    fs::remove(image);
  }
}
