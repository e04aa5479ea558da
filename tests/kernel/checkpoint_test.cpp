// Checkpoint stages of a running CT (issue 19), in a real kernel: suspend and resume with
// the cgroup freezer, as vzctl chkpnt --suspend / --resume; what the CT can do about it.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loader/cgroup.h"
#include "loader/unique_fd.h"
#include "running_ct.h"
#include "ubc/checkpoint_state.h"
#include "ubc/containers.h"
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

// A plain counter, as a CT's long-running process: its shell variable is its state, which
// only a restore (not a new start) carries on.
void start_plain_counter(const RunningCt& ct) {
  std::ofstream(ct.root() / "counter.sh") << "i=0\nwhile :; do i=$((i+1)); echo $i > /count; sleep 1; done\n";
  REQUIRE(ct.exec("setsid sh /counter.sh </dev/null >/dev/null 2>&1 &").status == 0);
}

// A CT process that writes into /sysinfo every second what sysinfo(2) tells it, then what
// two calls the CT's filter refuses give (keyctl 250, bpf 321) and what a quotactl gets
// (EPERM: served in a CT with a user namespace, its second level off; refused without
// one), and its pid (in the CT) into /sysinfo.pid.
void start_sysinfo_writer(const RunningCt& ct) {
  std::ofstream(ct.root() / "sysinfo.sh") << "echo $$ > /sysinfo.pid\n"
                                             "while :; do { ubc-escape sysinfo; ubc-escape syscall 250 321; "
                                             "ubc-escape quotactl u get 0 /; } "
                                             "> /sysinfo.new; mv /sysinfo.new /sysinfo; sleep 1; done\n";
  REQUIRE(ct.exec("setsid sh /sysinfo.sh </dev/null >/dev/null 2>&1 &").status == 0);
}

// What the writer writes next (waited for up to 15 s).
std::string fresh_sysinfo(const RunningCt& ct) {
  fs::remove(ct.root() / "sysinfo");
  for (int tries = 0; tries < 150; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream file(ct.root() / "sysinfo");
    std::stringstream text;
    if (file && text << file.rdbuf()) return text.str();
  }
  return "";
}

// What the writer writes in a round begun after now (each round waited for up to 15 s): the round
// under way may have called sysinfo in the moment before CRIU exited (ENOSYS, by design).
std::string next_sysinfo(const RunningCt& ct) {
  fresh_sysinfo(ct);
  return fresh_sysinfo(ct);
}

// The refused calls' verdicts in what the writer wrote.
std::string refusals_in(const std::string& written) {
  return written.substr(std::min(written.find('\n') + 1, written.size()));
}

// How many seccomp filters the writer runs under.
int writer_filters(const RunningCt& ct) {
  const auto status = ct.exec("grep Seccomp_filters: /proc/$(cat /sysinfo.pid)/status");
  const auto number = status.output.find_first_of("0123456789");
  return number == std::string::npos ? -1 : std::stoi(status.output.substr(number));
}

bool criu_missing() {
  if (ubc::test::shell("criu --version >/dev/null 2>&1").status == 0) return false;
  MESSAGE("SKIPPED: criu is not installed here (the VM image has it): checkpoint and restore are not tested");
  return true;
}

ubc::CheckpointState state_of(const fs::path& dir) {
  std::ifstream in(dir / ubc::kCheckpointStateFile);
  std::stringstream text;
  text << in.rdbuf();
  return ubc::parse_checkpoint_state(text.str());
}

ubc_counter row_of(const ubc::CheckpointState& state, ubc_resource resource) {
  for (const auto& row : state.rows)
    if (row.resource->id == resource) return row.counter;
  FAIL("the checkpoint has no row " << resource);
  return {};
}

// The tasks in the CT's cgroup tree, as numproc counts them, once that count holds still.
std::uint64_t numproc_settled(const std::string& ctid) {
  std::uint64_t held = 0;
  for (int tries = 0; tries < 50; ++tries) {
    const auto threads =
        ubc::test::shell("cat " + (ubc::test::host().cgroup_of(ctid) / "cgroup.threads").string() + " | wc -l").output;
    held = ubc::test::host().counter(ctid, UBC_NUMPROC).held;
    if (std::to_string(held) + "\n" == threads) return held;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("numproc held " << held << " never matched the CT's tasks");
  return held;
}

// A host-side TCP connection to the CT: connected with retries (the server in the CT may
// not listen yet), and a line sent and its echo awaited.
ubc::UniqueFd connect_to(const std::string& address, int port) {
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &peer.sin_addr);
  for (int tries = 0; tries < 50; ++tries) {
    ubc::UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&peer), sizeof peer) == 0) return socket;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return {};
}

// The echo of `line` within `wait`, or what came instead.
std::string echoed(int socket, const std::string& line, std::chrono::seconds wait) {
  if (::send(socket, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return "send failed: " + std::string(std::strerror(errno));
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (got.size() < line.size() && std::chrono::steady_clock::now() < deadline) {
    pollfd ready{socket, POLLIN, 0};
    if (::poll(&ready, 1, 200) <= 0) continue;
    char buffer[256];
    const ssize_t n = ::recv(socket, buffer, sizeof buffer, 0);
    if (n <= 0) return got + (n == 0 ? "<closed>" : "<recv: " + std::string(std::strerror(errno)) + ">");
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got;
}

// ubc-test-workload run inside the CT (its namespaces, so CRIU saves it with the CT),
// driven through a FIFO it holds open itself, its answers in /out.
class WorkloadInCt {
 public:
  explicit WorkloadInCt(const RunningCt& ct) : ct_(ct) {
    REQUIRE(ct.exec("mkfifo /cmd && setsid sh -c \"exec 3<>/cmd; exec ubc-test-workload </cmd >/out 2>&1\" "
                    "</dev/null >/dev/null 2>&1 &")
                .status == 0);
    REQUIRE(answer_after(0) == "ready");
  }
  // The answer to `command`, or what the workload said instead within 20 s.
  std::string ask(const std::string& command) { return answer_after(send(command)); }
  // Sends `command` without waiting: returns the number of the answer to come.
  std::size_t send(const std::string& command) {
    const std::size_t before = lines().size();
    REQUIRE(ct_.exec("echo " + command + " > /cmd").status == 0);
    return before;
  }
  // Answer number `count` (from 0, after "ready"), or "<no answer>" after 20 s.
  std::string answer_after(std::size_t count) const {
    for (int tries = 0; tries < 200; ++tries) {
      if (const auto read = lines(); read.size() > count) return read[count];
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "<no answer>";
  }

 private:
  std::vector<std::string> lines() const {
    std::ifstream in(ct_.root() / "out");
    std::vector<std::string> read;
    for (std::string line; std::getline(in, line);) read.push_back(line);
    return read;
  }
  const RunningCt& ct_;
};

// Whether `criu VERB` runs here (not the `criu --version` and `criu check` before it).
bool criu_running(const std::string& verb) {
  std::error_code error;
  for (fs::directory_iterator proc("/proc", error), end; !error && proc != end; proc.increment(error)) {
    std::string cmdline;
    std::getline(std::ifstream(proc->path() / "cmdline"), cmdline, '\n');
    if (cmdline.starts_with(std::string("criu\0", 5) + verb + '\0')) return true;
  }
  return false;
}

// Waits until `criu VERB` runs (`running`) or no longer does, polling often: false after
// `seconds`.
bool wait_for_criu(const std::string& verb, bool running, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (criu_running(verb) != running)
    if (std::chrono::steady_clock::now() > deadline) return false;
  return true;
}

// Waits (5 s at most) until a thread of the CT waits in vfork, the one state D a
// running task of this test's CT takes.
bool vfork_waiting(const fs::path& cgroup) {
  for (int tries = 0; tries < 50; ++tries) {
    if (ubc::cgroup::read_task_states(cgroup).uninterruptible > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Kills the children of the CT's processes that wait in vfork: they go on.
void end_vfork_children(const fs::path& cgroup) {
  for (const pid_t pid : ubc::cgroup::member_pids(cgroup)) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    if (text.rfind(')') == std::string::npos || text.substr(text.rfind(')') + 2, 1) != "D") continue;
    std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    for (pid_t child; children >> child;) ::kill(child, SIGKILL);
  }
}

}  // namespace

// chkpnt and restore of a CT made with `create_flags`: its process goes on, its beancounters
// keep their history and limits, and the restored CT is as confined as a started one.
void check_checkpoint_and_restore(const std::string& id, const std::string& create_flags) {
  RunningCt ct(id, create_flags);
  auto& host = ubc::test::host();
  start_plain_counter(ct);
  REQUIRE(count_past(ct, 0) > 0);
  // sysinfo answered with the CT's own figures (its physpages limit as its memory).
  REQUIRE(ubcctl("set " + ct.id() + " --physpages 256M").status == 0);
  const std::string ct_memory = "totalram=268435456 ";
  start_sysinfo_writer(ct);
  const std::string before_dump = next_sysinfo(ct);
  REQUIRE_MESSAGE(before_dump.find(ct_memory) != std::string::npos, before_dump);
  const std::string refused = refusals_in(before_dump);
  REQUIRE_MESSAGE(refused.find("250 ENOSYS") != std::string::npos, before_dump);
  REQUIRE_MESSAGE(refused.find("321 EPERM\nEPERM\n") != std::string::npos, before_dump);
  const int filters = writer_filters(ct);
  REQUIRE(filters >= 1);
  // A failure to remember: opens refused at a low numfile limit (not forks: the CT's init
  // is a shell loop, which a refused fork ends).
  const std::uint64_t files = host.counter(ct.id(), UBC_NUMFILE).held;
  REQUIRE(ubcctl("set " + ct.id() + " --numfile " + std::to_string(files + 4)).status == 0);
  ct.exec("for fd in 3 4 5 6 7 8 9; do eval \"exec $fd</dev/null\"; done");
  REQUIRE(ubcctl("set " + ct.id() + " --numproc 40 --numfile 300").status == 0);
  // CPU settings not saved: they too are the checkpoint's after the restore, not the config's.
  REQUIRE(ubcctl("set " + ct.id() + " --cpuunits 2000 --cpulimit 25").status == 0);

  // Suspended first, the figures hold still and the checkpoint must keep them.
  const auto suspended = ubcctl("chkpnt " + ct.id() + " --suspend");
  REQUIRE_MESSAGE(suspended.status == 0, suspended.output);
  const ubc_counter numfile = host.counter(ct.id(), UBC_NUMFILE);
  const long frozen_at = count_of(ct);
  const auto dumped = ubcctl("chkpnt " + ct.id());
  REQUIRE_MESSAGE(dumped.status == 0, dumped.output);
  const fs::path dir = ubc::default_dump_dir(ct.id());
  const ubc::CheckpointState state = state_of(dir);
  CHECK(state.ctid == ct.id());
  CHECK_FALSE(state.restored_at);
  CHECK(row_of(state, UBC_NUMFILE).failcnt == numfile.failcnt);
  CHECK(row_of(state, UBC_NUMFILE).maxheld == numfile.maxheld);
  CHECK(row_of(state, UBC_NUMPROC).limit == 40);
  // Stopped, and said to be suspended while the checkpoint waits; not started afresh.
  CHECK_FALSE(ubc::cgroup::is_populated(host.cgroup_of(ct.id())));
  CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted down suspended\n"));
  const auto start = ubcctl("start " + ct.id());
  CHECK(start.status != 0);
  CHECK(start.output.find("has a checkpoint") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(count_of(ct) == frozen_at);

  const auto restored = ubcctl("restore " + ct.id());
  REQUIRE_MESSAGE(restored.status == 0, restored.output);
  CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
  // The same process goes on counting from where it was, not a new one from 1.
  const long after = count_past(ct, frozen_at);
  CHECK(after > frozen_at);
  CHECK(after < frozen_at + 15);
  // Every restored task is charged to the CT again; the history is the checkpoint's, not
  // what CRIU's own work (with the limits lifted) went through.
  const std::uint64_t tasks = numproc_settled(ct.id());
  CHECK(tasks >= 2);  // init and the counter
  const ubc_counter numproc_after = host.counter(ct.id(), UBC_NUMPROC);
  const ubc_counter numfile_after = host.counter(ct.id(), UBC_NUMFILE);
  CHECK(numfile_after.failcnt == numfile.failcnt);
  CHECK(numproc_after.limit == 40);
  CHECK(numfile_after.limit == 300);
  CHECK(numfile_after.held > 0);
  CHECK(numfile_after.maxheld >= numfile.maxheld);
  CHECK(numfile_after.maxheld <= std::max(numfile.maxheld, numfile_after.held) + 4);
  if (const fs::path cgroup = host.cgroup_of(ct.id()); fs::exists(cgroup / "cpu.weight")) {
    CHECK(ubc::cgroup::first_line(cgroup / "cpu.weight") == "200");
    CHECK(ubc::cgroup::first_line(cgroup / "cpu.max") == "25000 100000");
  } else {
    MESSAGE("SKIPPED: no cpu controller in the CT's cgroup: CPU settings across a checkpoint not tested");
  }
  // The CT's /proc is a view served again: its own rows, its own processes.
  const auto beancounters = ct.exec("cat /proc/user_beancounters");
  CHECK(beancounters.output.find(ct.id() + ":") != std::string::npos);
  CHECK(ct.exec("ps").output.find("counter.sh") != std::string::npos);
  CHECK(ct.exec("cat /sys/devices/system/cpu/online").status == 0);

  // Confined as at a start: its own cgroup namespace (nsdelegate keeps its cgroup's files
  // the host's), which CRIU's cgroup work must not have taken off the host's hierarchy.
  CHECK(ct.exec("cat /proc/self/cgroup").output == "0::/\n");
  CHECK(ubc::test::shell("grep ' - cgroup2 ' /proc/self/mountinfo").output.find("nsdelegate") != std::string::npos);
  const auto self_freeze =
      ubc::test::shell("timeout 30 " + (fs::read_symlink("/proc/self/exe").parent_path() / "ubcctl").string() +
                       " exec " + ct.id() + " -- sh -c 'echo 1 > /sys/fs/cgroup/cgroup.freeze' 2>&1");
  CHECK(self_freeze.status != 0);
  CHECK(self_freeze.status != 124);  // timed out: the CT froze itself, and its exec with it
  CHECK_FALSE(ubc::cgroup::is_frozen(host.cgroup_of(ct.id())));
  ubc::cgroup::set_frozen(host.cgroup_of(ct.id()), false, 10000);

  // The restored processes' sysinfo is still answered for the CT (CRIU restores their
  // filters, not their listener: ENOSYS before the restore's own filter over them), and
  // after a second round too, each round's filter saved with the rest.
  const std::string restored_sysinfo = next_sysinfo(ct);
  CHECK_MESSAGE(restored_sysinfo.find(ct_memory) != std::string::npos, restored_sysinfo);
  CHECK(refusals_in(restored_sysinfo) == refused);  // the saved filters still refuse
  CHECK(writer_filters(ct) == filters + 1);
  const auto second_dump = ubcctl("chkpnt " + ct.id());
  REQUIRE_MESSAGE(second_dump.status == 0, second_dump.output);
  const auto second_restore = ubcctl("restore " + ct.id());
  REQUIRE_MESSAGE(second_restore.status == 0, second_restore.output);
  const std::string second_sysinfo = next_sysinfo(ct);
  CHECK_MESSAGE(second_sysinfo.find(ct_memory) != std::string::npos, second_sysinfo);
  CHECK(refusals_in(second_sysinfo) == refused);
  CHECK(writer_filters(ct) == filters + 2);
  CHECK(count_past(ct, after) > after);

  // A checkpoint restores once.
  REQUIRE(ubcctl("stop " + ct.id()).status == 0);
  const auto again = ubcctl("restore " + ct.id());
  CHECK(again.status != 0);
  CHECK(again.output.find("restores once") != std::string::npos);
  CHECK(state_of(dir).restored_at);
  CHECK_FALSE(fs::exists(dir / "pstree.img"));
  CHECK(ubcctl("start " + ct.id()).status == 0);
}

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

  TEST_CASE("chkpnt saves a CT with CRIU and stops it; restore continues it with its beancounters' history") {
    if (criu_missing()) return;
    SUBCASE("a CT with a user namespace of its own") {
      check_checkpoint_and_restore("ct-criu", "");
    }
    SUBCASE("a CT without one") {
      check_checkpoint_and_restore("ct-criu-host-ids", "--userns no");
    }
  }

  TEST_CASE("a CT with an address keeps its veth, address and an established TCP connection through chkpnt") {
    if (criu_missing()) return;
    const std::string address = "10.77.0.91";
    RunningCt ct("ct-criu-net", "--ipadd " + address);
    // The test VM's host has no IPv4 address of its own to connect from (no network): one
    // on lo, which the host's route to the CT then takes as its source.
    const bool own_source = ubc::test::shell("ip -4 addr show scope global | grep -q inet").status != 0;
    if (own_source) REQUIRE(ubc::test::shell("ip addr add 10.77.255.1/32 dev lo").status == 0);
    struct DropSource {
      bool drop;
      ~DropSource() {
        if (drop) ubc::test::shell("ip addr del 10.77.255.1/32 dev lo");
      }
    } drop_source{own_source};
    // An echo server in the CT; the host's end of the connection is this test's.
    REQUIRE(ct.exec("setsid busybox nc -l -p 7001 -e cat </dev/null >/dev/null 2>&1 &").status == 0);
    const ubc::UniqueFd connection = connect_to(address, 7001);
    REQUIRE(connection);
    REQUIRE(echoed(connection.get(), "before\n", std::chrono::seconds(10)) == "before\n");
    // The CT's own nftables rules (the host's nft in the CT's network namespace).
    const bool have_nft = ::access("/usr/sbin/nft", X_OK) == 0;
    const auto in_ct_netns = [&ct](const std::string& command) {
      std::string init;
      std::ifstream(ubc::test::run_dir() / (ct.id() + ".pid")) >> init;  // a new one after the restore
      return ubc::test::shell("nsenter -t " + init + " -n " + command);
    };
    if (have_nft)
      REQUIRE(in_ct_netns("nft 'add table inet own; add chain inet own c; add rule inet own c counter'").status == 0);

    const auto dumped = ubcctl("chkpnt " + ct.id());
    REQUIRE_MESSAGE(dumped.status == 0, dumped.output);
    // Stopped: the host has no route to the CT any more (the pair went with its netns).
    CHECK(ubc::test::shell("ip route get " + address + " 2>&1 | grep -q ubc").status != 0);
    const auto restored = ubcctl("restore " + ct.id());
    REQUIRE_MESSAGE(restored.status == 0, restored.output);
    const auto route = ubc::test::shell("ip route get " + address);
    CAPTURE(route.output);
    CHECK(route.output.find("dev ubc") != std::string::npos);
    CHECK(ct.exec("ip -4 addr show dev eth0").output.find(address + "/32") != std::string::npos);
    if (have_nft) {
      const auto rules = in_ct_netns("nft list table inet own");
      CAPTURE(rules.output);
      CHECK(rules.output.find("counter") != std::string::npos);
      // Nothing else: CRIU's network lock, a table added at the dump, is gone again.
      CHECK(in_ct_netns("nft list tables").output == "table inet own\n");
    } else {
      MESSAGE("SKIPPED: no nft here: the CT's nftables rules across a checkpoint are not tested");
    }
    // The same connection, the same server process: the host's socket never saw it go.
    CHECK(echoed(connection.get(), "after\n", std::chrono::seconds(60)) == "after\n");
    // And new ones reach the CT too.
    REQUIRE(ct.exec("setsid busybox nc -l -p 7002 -e cat </dev/null >/dev/null 2>&1 &").status == 0);
    const ubc::UniqueFd fresh = connect_to(address, 7002);
    REQUIRE(fresh);
    CHECK(echoed(fresh.get(), "new\n", std::chrono::seconds(10)) == "new\n");
  }

  TEST_CASE("a CT's SysV segments, file locks, ptys, UNIX sockets and queued signals come back, charged as before") {
    if (criu_missing()) return;
    RunningCt ct("ct-criu-objects", "");
    auto& host = ubc::test::host();
    WorkloadInCt workload(ct);
    CHECK(workload.ask("shm 2 65536") == "ok 2 0");
    CHECK(workload.ask("flock 3") == "ok 3 0");
    CHECK(workload.ask("pty 2 /dev/pts/ptmx") == "ok 2 0");
    CHECK(workload.ask("unixconn 2") == "ok 2 0");
    CHECK(workload.ask("sigqueue 4") == "ok 4 0");
    const std::vector<ubc_resource> rows{UBC_NUMFLOCK, UBC_NUMPTY, UBC_NUMOTHERSOCK, UBC_NUMSIGINFO};
    REQUIRE(ubcctl("chkpnt " + ct.id() + " --suspend").status == 0);
    std::map<ubc_resource, std::uint64_t> held;
    for (const ubc_resource row : rows) held[row] = host.counter(ct.id(), row).held;
    const std::uint64_t held_shm = host.counter(ct.id(), UBC_SHMPAGES).held;
    const auto dumped = ubcctl("chkpnt " + ct.id());
    REQUIRE_MESSAGE(dumped.status == 0, dumped.output);
    // All of it went with the CT's processes (a moment later: some of it is freed from a
    // work queue).
    for (const ubc_resource row : rows) {
      CAPTURE(row);
      std::uint64_t left = host.counter(ct.id(), row).held;
      for (int tries = 0; tries < 100 && left != 0; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        left = host.counter(ct.id(), row).held;
      }
      CHECK(left == 0);
    }
    const auto restored = ubcctl("restore " + ct.id());
    REQUIRE_MESSAGE(restored.status == 0, restored.output);
    // The same process holds the same objects, each charged to the CT once again.
    for (const ubc_resource row : rows) {
      CAPTURE(row);
      CHECK(host.counter(ct.id(), row).held == held[row]);
    }
    // shmpages counts the segments and the memcg's other shmem: the CT's files on tmpfs
    // here, and so is the checkpoint, whose restore.log ubcctl writes (CRIU, in the CT's
    // cgroup, only fills a pipe). The memcg's figure trails by up to 64 pages for 2 s.
    std::uint64_t shm_after = host.counter(ct.id(), UBC_SHMPAGES).held;
    for (int tries = 0; tries < 50 && shm_after != held_shm; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      shm_after = host.counter(ct.id(), UBC_SHMPAGES).held;
    }
    MESSAGE("shmpages held " << held_shm << " before chkpnt, " << shm_after << " after restore");
    CHECK(shm_after == held_shm);
    CHECK(workload.ask("locks") == "ok 3");
    CHECK(workload.ask("shmtouch") == "ok 0");
    CHECK(workload.ask("sigdrain") == "ok 4");
    CHECK(workload.ask("closeall") == "ok");
    CHECK(host.counter(ct.id(), UBC_NUMFLOCK).held == 0);
    CHECK(host.counter(ct.id(), UBC_NUMPTY).held == 0);
  }

  TEST_CASE("chkpnt refuses a CT with an enter session running, which goes on; once it ends, chkpnt works") {
    if (criu_missing()) return;
    RunningCt ct("ct-criu-enter", "--userns no");
    const std::string ubcctl_path = (fs::read_symlink("/proc/self/exe").parent_path() / "ubcctl").string();
    const fs::path work = fs::temp_directory_path() / "ubc-enter-session";
    fs::remove_all(work);
    fs::create_directories(work);
    const std::string in = (work / "in").string(), out = (work / "out").string();
    const fs::path ended = work / "ended";
    // The session's input a FIFO this test holds open, so that its shell waits for more.
    REQUIRE(ubc::test::shell("mkfifo " + in).status == 0);
    REQUIRE(ubc::test::shell("setsid sh -c '" + ubcctl_path + " enter " + ct.id() + " <" + in + " >" + out +
                             " 2>&1; echo $? >" + ended.string() + "' </dev/null >/dev/null 2>&1 &")
                .status == 0);
    const ubc::UniqueFd input(::open(in.c_str(), O_WRONLY | O_CLOEXEC));
    REQUIRE(input);
    const auto say = [&input](const std::string& line) {
      return ::write(input.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size());
    };
    const auto said = [&out](const std::string& text) {
      for (int tries = 0; tries < 100; ++tries) {
        std::ifstream file(out);
        std::stringstream read;
        read << file.rdbuf();
        if (read.str().find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return false;
    };
    REQUIRE(say("echo one-$((20+1))\n"));
    REQUIRE(said("one-21"));

    const auto refused = ubcctl("chkpnt " + ct.id());
    CHECK(refused.status != 0);
    CHECK(refused.output.find("enter session running") != std::string::npos);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
    CHECK_FALSE(ubc::cgroup::is_frozen(ubc::test::host().cgroup_of(ct.id())));
    // Nothing of it was touched: the session answers on.
    REQUIRE(say("echo two-$((20+2))\n"));
    CHECK(said("two-22"));

    // Ended, it no longer stands in the way (what it started in the background is init's).
    REQUIRE(say("exit\n"));
    for (int tries = 0; tries < 100 && !fs::exists(ended); ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(fs::exists(ended));
    const auto dumped = ubcctl("chkpnt " + ct.id());
    CHECK_MESSAGE(dumped.status == 0, dumped.output);
    const auto restored = ubcctl("restore " + ct.id());
    CHECK_MESSAGE(restored.status == 0, restored.output);
    fs::remove_all(work);
  }

  TEST_CASE("chkpnt's stages alone: --suspend, --dump (it stays suspended), --kill, then restore; or --resume") {
    if (criu_missing()) return;
    RunningCt ct("ct-criu-stages", "");
    const fs::path cgroup = ubc::test::host().cgroup_of(ct.id());
    const fs::path dir = ubc::default_dump_dir(ct.id());
    start_plain_counter(ct);
    REQUIRE(count_past(ct, 0) > 0);
    // Out of order: refused, nothing changed.
    CHECK(ubcctl("chkpnt " + ct.id() + " --dump").output.find("is not suspended") != std::string::npos);
    CHECK(ubcctl("chkpnt " + ct.id() + " --kill").output.find("is not suspended") != std::string::npos);
    CHECK(ubcctl("chkpnt " + ct.id() + " --dump --kill").status != 0);
    CHECK_FALSE(fs::exists(dir / ubc::kCheckpointStateFile));
    REQUIRE(ubcctl("chkpnt " + ct.id() + " --suspend").status == 0);
    CHECK(ubcctl("chkpnt " + ct.id() + " --kill").output.find("no checkpoint") != std::string::npos);
    CHECK(ubc::cgroup::is_populated(cgroup));

    const long frozen_at = count_of(ct);
    const auto dumped = ubcctl("chkpnt " + ct.id() + " --dump");
    REQUIRE_MESSAGE(dumped.status == 0, dumped.output);
    CHECK(ubc::cgroup::is_frozen(cgroup));
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running suspended"));
    CHECK_FALSE(state_of(dir).restored_at);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK(count_of(ct) == frozen_at);
    // A second dump into the same place would overwrite the first: refused.
    CHECK(ubcctl("chkpnt " + ct.id() + " --dump").output.find("not restored yet") != std::string::npos);

    const auto killed = ubcctl("chkpnt " + ct.id() + " --kill");
    REQUIRE_MESSAGE(killed.status == 0, killed.output);
    CHECK_FALSE(ubc::cgroup::is_populated(cgroup));
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted down suspended"));
    const auto restored = ubcctl("restore " + ct.id());
    REQUIRE_MESSAGE(restored.status == 0, restored.output);
    const long resumed_at = count_past(ct, frozen_at);
    CHECK(resumed_at > frozen_at);
    CHECK(resumed_at < frozen_at + 30);  // went on, not from 1

    // --dump then --resume: the CT runs on; the checkpoint is kept (a snapshot) and says so.
    fs::remove_all(dir);
    REQUIRE(ubcctl("chkpnt " + ct.id() + " --suspend").status == 0);
    REQUIRE(ubcctl("chkpnt " + ct.id() + " --dump").status == 0);
    REQUIRE(ubcctl("chkpnt " + ct.id() + " --resume").status == 0);
    const long snapshot_at = count_of(ct);
    CHECK(count_past(ct, snapshot_at) > snapshot_at);
    CHECK(fs::exists(dir / ubc::kCheckpointStateFile));
    fs::remove_all(dir);
  }

  TEST_CASE(
      "a ubcctl killed during a pre-dump or a dump: CRIU finishes, the CT runs on or restores, never stays frozen") {
    if (criu_missing()) return;
    RunningCt ct("ct-criu-killed", "");
    auto& host = ubc::test::host();
    const fs::path cgroup = host.cgroup_of(ct.id());
    start_plain_counter(ct);
    REQUIRE(count_past(ct, 0) > 0);

    // migrate's pre-dump, in a process killed once CRIU runs.
    const fs::path pre_dumps = fs::temp_directory_path() / "ubc-killed-pre-dumps";
    fs::remove_all(pre_dumps);
    const pid_t migrating = ::fork();
    REQUIRE(migrating >= 0);
    if (migrating == 0) {
      try {
        ubc::Containers(host).pre_dump(ct.id(), pre_dumps, 1);
      } catch (...) {
      }
      ::_exit(0);
    }
    REQUIRE(wait_for_criu("pre-dump", true, 60));
    ::kill(migrating, SIGKILL);
    ::waitpid(migrating, nullptr, 0);
    REQUIRE(wait_for_criu("pre-dump", false, 120));
    // Thawed once CRIU ended (the kernel reports it a moment later).
    for (int tries = 0; tries < 50 && ubc::cgroup::is_frozen(cgroup); ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));
    const long after_pre_dump = count_of(ct);
    CHECK(count_past(ct, after_pre_dump) > after_pre_dump);
    fs::remove_all(pre_dumps);

    // chkpnt killed once CRIU runs: the dump finishes with ubc's state, and restore goes on.
    const std::string ubcctl_path = (fs::read_symlink("/proc/self/exe").parent_path() / "ubcctl").string();
    const auto started =
        ubc::test::shell("setsid " + ubcctl_path + " chkpnt " + ct.id() + " </dev/null >/dev/null 2>&1 & echo $!");
    const pid_t chkpnt = std::stoi(started.output);
    REQUIRE(wait_for_criu("dump", true, 60));
    const long dumped_at = count_of(ct);
    ::kill(chkpnt, SIGKILL);
    REQUIRE(wait_for_criu("dump", false, 120));
    for (int tries = 0; tries < 50 && ubc::cgroup::is_frozen(cgroup); ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto status = ubcctl("status " + ct.id()).output;
    CAPTURE(ubc::test::shell("tail -n 20 " + (ubc::default_dump_dir(ct.id()) / "dump.log").string()).output);
    CHECK_MESSAGE(status.starts_with("CTID " + ct.id() + " exist mounted down suspended"), status);
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));
    const auto restored = ubcctl("restore " + ct.id());
    REQUIRE_MESSAGE(restored.status == 0, restored.output);
    const long resumed_at = count_past(ct, dumped_at);
    CHECK(resumed_at > dumped_at);
    CHECK(resumed_at < dumped_at + 30);  // went on, not from 1
  }

  TEST_CASE("chkpnt and pre-dump wait out a task's vfork; a CT that holds one open is refused and runs on") {
    if (criu_missing()) return;
    RunningCt ct("ct-criu-vfork", "");
    auto& host = ubc::test::host();
    const fs::path cgroup = host.cgroup_of(ct.id());
    WorkloadInCt workload(ct);
    ubc::Containers containers(host);
    const fs::path pre_dumps = fs::temp_directory_path() / "ubc-vfork-pre-dumps";
    fs::remove_all(pre_dumps);

    // A vfork child that neither execs nor exits: CRIU could never seize its parent. Both
    // are refused in bounded time, and the CT is left running, not frozen.
    const std::size_t held_answer = workload.send("vfork 600000");
    REQUIRE(vfork_waiting(cgroup));
    const auto refused = ubcctl("chkpnt " + ct.id());
    CHECK(refused.status != 0);
    CHECK_MESSAGE(refused.output.find("wait in vfork()") != std::string::npos, refused.output);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));
    CHECK_THROWS_WITH(containers.pre_dump(ct.id(), pre_dumps, 1), doctest::Contains("wait in vfork()"));
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));
    // A ubcctl killed in the middle of that wait, the CT frozen: it is thawed all the same.
    // Stopped the moment the CT is seen frozen, ubcctl is killed only if it still is.
    const std::string ubcctl_path = (fs::read_symlink("/proc/self/exe").parent_path() / "ubcctl").string();
    const pid_t suspending = std::stoi(ubc::test::shell("setsid " + ubcctl_path + " chkpnt " + ct.id() +
                                                        " --suspend </dev/null >/dev/null 2>&1 & echo $!")
                                           .output);
    bool killed_frozen = false;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(9);
    while (!killed_frozen && std::chrono::steady_clock::now() < give_up) {
      if (ubc::cgroup::first_line(cgroup / "cgroup.freeze") != "1") continue;
      ::kill(suspending, SIGSTOP);
      if (ubc::cgroup::first_line(cgroup / "cgroup.freeze") == "1") {
        ::kill(suspending, SIGKILL);
        killed_frozen = true;
      } else {
        ::kill(suspending, SIGCONT);
      }
    }
    REQUIRE(killed_frozen);
    for (int tries = 0; tries < 50 && ubc::cgroup::first_line(cgroup / "cgroup.freeze") == "1"; ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(ubc::cgroup::first_line(cgroup / "cgroup.freeze") == "0");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
    end_vfork_children(cgroup);
    CHECK(workload.answer_after(held_answer) == "ok 0");

    // A vfork that ends (an exec's length): the pre-dump and the dump wait for it, where
    // CRIU alone would wait on the parent until its time-out and fail.
    const std::size_t pre_dumped_answer = workload.send("vfork 3000");
    REQUIRE(vfork_waiting(cgroup));
    CHECK_NOTHROW(containers.pre_dump(ct.id(), pre_dumps, 1));
    CHECK_FALSE(ubc::cgroup::is_frozen(cgroup));
    CHECK(workload.answer_after(pre_dumped_answer) == "ok 0");
    fs::remove_all(pre_dumps);
    const std::size_t dumped_answer = workload.send("vfork 3000");
    REQUIRE(vfork_waiting(cgroup));
    const auto dumped = ubcctl("chkpnt " + ct.id());
    REQUIRE_MESSAGE(dumped.status == 0, dumped.output);
    const auto restored = ubcctl("restore " + ct.id());
    REQUIRE_MESSAGE(restored.status == 0, restored.output);
    CHECK(workload.answer_after(dumped_answer) == "ok 0");
    CHECK(workload.ask("pipe") == "ok 0");
  }

  TEST_CASE("a failed dump leaves the CT running; a failed restore leaves the checkpoint and nothing running") {
    if (criu_missing()) return;
    RunningCt ct("ct-criu-fail", "--userns no");
    auto& host = ubc::test::host();
    start_plain_counter(ct);
    REQUIRE(count_past(ct, 0) > 0);
    // At its numfile barrier, CRIU's parasite could not open its files in the CT: refused
    // up front, not half-way with CRIU's words.
    const std::uint64_t files = host.counter(ct.id(), UBC_NUMFILE).held;
    REQUIRE(ubcctl("set " + ct.id() + " --numfile " + std::to_string(files + 6)).status == 0);
    const auto cramped = ubcctl("chkpnt " + ct.id());
    CHECK(cramped.status != 0);
    CHECK_MESSAGE(cramped.output.find("CRIU needs up to 8 more") != std::string::npos, cramped.output);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
    REQUIRE(ubcctl("set " + ct.id() + " --numfile 300").status == 0);
    // CRIU runs out of room for its images.
    const fs::path tiny = fs::temp_directory_path() / "ubc-tiny-dump";
    fs::create_directories(tiny);
    REQUIRE(::mount("tmpfs", tiny.c_str(), "tmpfs", 0, "size=64k") == 0);
    const auto full = ubcctl("chkpnt " + ct.id() + " --dumpfile " + (tiny / "d").string());
    ::umount2(tiny.c_str(), MNT_DETACH);
    CHECK(full.status != 0);
    CHECK(full.output.find("criu dump failed") != std::string::npos);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
    const long counted = count_of(ct);
    CHECK(count_past(ct, counted) > counted);

    // A directory of someone else's files is refused, and left alone.
    const fs::path foreign = fs::temp_directory_path() / "ubc-foreign-dump";
    fs::create_directories(foreign);
    std::ofstream(foreign / "notes.txt") << "mine\n";
    CHECK(ubcctl("chkpnt " + ct.id() + " --dumpfile " + foreign.string()).output.find("not a checkpoint's") !=
          std::string::npos);
    CHECK(fs::exists(foreign / "notes.txt"));
    fs::remove_all(foreign);

    REQUIRE(ubcctl("set " + ct.id() + " --numfile 250").status == 0);
    REQUIRE(ubcctl("chkpnt " + ct.id()).status == 0);
    const fs::path dir = ubc::default_dump_dir(ct.id());
    fs::rename(dir / "pstree.img", dir / "pstree.img.away");
    const auto broken = ubcctl("restore " + ct.id());
    CHECK(broken.status != 0);
    CHECK(broken.output.find("criu restore failed") != std::string::npos);
    // CRIU's log, which ubcctl writes for it (this CRIU crashes here, with no error line).
    CHECK(broken.output.find((dir / "restore.log").string()) != std::string::npos);
    CHECK(fs::file_size(dir / "restore.log") > 0);
    CHECK_FALSE(ubc::cgroup::is_populated(host.cgroup_of(ct.id())));
    CHECK(host.counter(ct.id(), UBC_NUMFILE).limit == 250);  // lifted during the restore, put back
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted down suspended\n"));
    CHECK_FALSE(state_of(dir).restored_at);
    // Its helpers went with it.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CHECK(ubc::test::shell("cat " + host.helper_cgroup_of(ct.id()).string() + "/cgroup.procs").output.empty());

    fs::rename(dir / "pstree.img.away", dir / "pstree.img");
    const auto restored = ubcctl("restore " + ct.id());
    REQUIRE_MESSAGE(restored.status == 0, restored.output);
    CHECK(count_past(ct, counted) > counted);
  }
}
