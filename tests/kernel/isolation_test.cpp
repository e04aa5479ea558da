// The escape suite (issue 13): a CT's root tries, as an attacker would, every way out that
// the default CT must close, with and without a user namespace of its own. Each check is
// written so that it fails where the boundary is missing.
#include <doctest/doctest.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "loader/cgroup.h"
#include "loader/ct_capabilities.h"
#include "loader/masked_paths.h"
#include "loader/seccomp_policy.h"
#include "running_ct.h"
#include "ubc/ct_config.h"
#include "workload.h"

namespace fs = std::filesystem;
using ubc::test::RunningCt;
using ubc::test::ubcctl;

namespace {

// The two kinds of CT the boundary must hold for: the default (its own user namespace) and
// one whose root is the host's root.
const std::map<std::string, std::string>& ct_kinds() {
  static const std::map<std::string, std::string> kinds{{"ns", ""}, {"root", "--userns no"}};
  return kinds;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// ubc-escape's one-line verdict from inside the CT.
std::string attempt(const RunningCt& ct, const std::string& arguments) {
  const auto run = ct.exec("ubc-escape " + arguments);
  CAPTURE(run.output);
  CHECK(run.status == 0);
  return trimmed(run.output);
}

std::string expected_probe(const fs::path& host_path, ubc::ns::Mask mask) {
  switch (mask) {
    case ubc::ns::Mask::hidden:
      return fs::is_directory(host_path) ? "empty-ro" : "null";
    case ubc::ns::Mask::read_only:
      return "ro";
    case ubc::ns::Mask::writable:
      return "rw";
  }
  return "?";
}

std::string status_field(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field + ":")) return trimmed(line.substr(field.size() + 2));
  return "";
}

pid_t init_of(const RunningCt& ct) {
  std::ifstream in(ubc::test::run_dir() / (ct.id() + ".pid"));
  pid_t pid = 0;
  in >> pid;
  return pid;
}

std::string hex(std::uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// A test that unloads the engine leaves it loaded for the next, whatever fails.
struct EngineLoadedAtExit {
  EngineLoadedAtExit() = default;
  EngineLoadedAtExit(const EngineLoadedAtExit&) = delete;
  EngineLoadedAtExit& operator=(const EngineLoadedAtExit&) = delete;
  ~EngineLoadedAtExit() {
    ubc::test::reopen_host();
    if (!ubc::test::host().engine_loaded()) ubcctl("load");
    ubc::test::reopen_host();
  }
};

// Every masked path that this kernel has, probed in one run of ubc-escape.
void check_masks(const RunningCt& ct) {
  std::vector<std::pair<fs::path, std::string>> expected;
  for (const auto& [path, mask] : ubc::ns::masked_proc_paths())
    if (const fs::path host_path = fs::path("/proc") / path; fs::exists(host_path))
      expected.emplace_back(host_path, expected_probe(host_path, mask));
  for (const auto& [path, mask] : ubc::ns::masked_sys_paths())
    if (const fs::path host_path = fs::path("/sys") / path; fs::exists(host_path))
      expected.emplace_back(host_path, expected_probe(host_path, mask));
  std::string paths;
  for (const auto& [path, verdict] : expected) paths += " " + path.string();
  std::istringstream verdicts(attempt(ct, "probe" + paths));
  for (const auto& [path, verdict] : expected) {
    CAPTURE(path);
    std::string seen;
    std::getline(verdicts, seen);
    CHECK(seen == verdict);
  }
}

}  // namespace

TEST_SUITE("isolation") {
  TEST_CASE("the kernel's host-wide /proc and /sys paths are masked or read-only, and stay so") {
    for (const auto& [kind, flags] : ct_kinds()) {
      CAPTURE(kind);
      RunningCt ct("ct-mask-" + kind, flags);
      check_masks(ct);
      // The attack: a core_pattern pipe runs as host root in the host's namespaces.
      // (A CT of its own user namespace meets EACCES first: the files are the host root's.)
      const std::string refused = kind == "root" ? "EROFS" : "EACCES";
      CHECK(attempt(ct, "write /proc/sys/kernel/core_pattern \"|/proc/%P/root/x.sh\"") == refused);
      CHECK(attempt(ct, "write /proc/sysrq-trigger h") == refused);
      CHECK(attempt(ct, "write /proc/sys/vm/drop_caches 3") == refused);
      // The CT's own network namespace stays the CT's to tune; the host's is untouched.
      const std::string host_forwarding = ubc::cgroup::read_file("/proc/sys/net/ipv4/conf/lo/forwarding");
      const std::string flipped = host_forwarding.starts_with("1") ? "0" : "1";
      CHECK(attempt(ct, "write /proc/sys/net/ipv4/conf/lo/forwarding " + flipped) == "ok");
      CHECK(ubc::cgroup::read_file("/proc/sys/net/ipv4/conf/lo/forwarding") == host_forwarding);
      // Undoing a mask: directly, from a nested user namespace, or by clearing read-only.
      CHECK(attempt(ct, "umount /proc/sys") != "ok");
      CHECK(attempt(ct, "umount /proc/kcore") != "ok");
      CHECK(attempt(ct, "nested-umount /proc/sys") != "ok");
      CHECK(attempt(ct, "nested-umount /sys/firmware") != "ok");
      CHECK(attempt(ct, "nested-remount /proc/sys") != "ok");
      CHECK(attempt(ct, "nested-remount /sys") != "ok");
    }
  }

  TEST_CASE("the plain procfs fallback (no /proc view) is masked the same") {
    // Without its server the CT starts with a plain procfs (as without /dev/fuse).
    const fs::path server = fs::read_symlink("/proc/self/exe").parent_path() / "ubc-procfs";
    const fs::path aside = server.string() + ".aside";
    fs::rename(server, aside);
    struct PutBack {
      fs::path from, to;
      ~PutBack() { fs::rename(from, to); }
    } put_back{aside, server};
    for (const auto& [kind, flags] : ct_kinds()) {
      CAPTURE(kind);
      RunningCt ct("ct-plain-" + kind, flags);
      CHECK(attempt(ct, "probe /proc/user_beancounters") == "missing");  // it is the fallback
      check_masks(ct);
      CHECK(attempt(ct, "write /proc/sys/kernel/core_pattern \"|/x\"") == (kind == "root" ? "EROFS" : "EACCES"));
      CHECK(attempt(ct, "nested-umount /proc/sys") != "ok");
    }
  }

  TEST_CASE("default capabilities and seccomp: no file handles, real-time, modules, keyring, perf, nodes") {
    for (const auto& [kind, flags] : ct_kinds()) {
      CAPTURE(kind);
      RunningCt ct("ct-caps-" + kind, flags);
      const std::string expected = hex(ubc::default_ct_capabilities());
      // The CT's init and what exec runs in it have the default set and the filter.
      const pid_t init = init_of(ct);
      CHECK(status_field(init, "CapBnd") == expected);
      CHECK(status_field(init, "CapEff") == expected);
      CHECK(status_field(init, "Seccomp") == "2");
      const auto inside = ct.exec("grep -E \"^(CapBnd|CapEff|CapInh|CapAmb|Seccomp):\" /proc/self/status");
      CHECK(inside.output.find("CapBnd:\t" + expected) != std::string::npos);
      CHECK(inside.output.find("CapInh:\t0000000000000000") != std::string::npos);
      CHECK(inside.output.find("CapAmb:\t0000000000000000") != std::string::npos);
      CHECK(inside.output.find("Seccomp:\t2") != std::string::npos);
      CHECK(ct.exec("ulimit -r").output == "0\n");
      // open_by_handle_at reads files past any root: refused before it starts.
      CHECK(attempt(ct, "handle /") == "open_by_handle_at EPERM");
      // Real-time classes run above both CPU enforcers.
      CHECK(attempt(ct, "realtime") == "EPERM");
      CHECK(attempt(ct, "mknod /tmp/null") == "EPERM");
      // Every refused call, with the errno the table promises (arguments 0: harmless if let through).
      std::string numbers;
      std::map<int, const ubc::seccomp::RefusedCall*> by_number;
      for (const auto& call : ubc::seccomp::refused_calls()) {
        const int number = ::seccomp_syscall_resolve_name(call.name);
        if (number < 0) continue;  // not an x86-64 call
        numbers += " " + std::to_string(number);
        by_number[number] = &call;
      }
      const auto run = ct.exec("ubc-escape syscall" + numbers);
      REQUIRE(run.status == 0);
      std::istringstream lines(run.output);
      int seen = 0;
      for (std::string line; std::getline(lines, line);) {
        int number = -1;
        char result[64] = {};
        if (std::sscanf(line.c_str(), "%d %63s", &number, result) != 2 || !by_number.count(number)) continue;
        const auto& call = *by_number[number];
        CAPTURE(call.name);
        CHECK(std::string(result) == strerrorname_np(call.error));
        ++seen;
      }
      CHECK(seen == static_cast<int>(by_number.size()));
    }
  }

  TEST_CASE("set --capability grants or removes one at the next start; status and list show them") {
    RunningCt ct("ct-capset", "");
    const auto bad = ubcctl("set " + ct.id() + " --capability sys_tim:on");
    CHECK(bad.status == 2);
    CHECK(bad.output.find("unknown name 'sys_tim'") != std::string::npos);
    CHECK(ubcctl("set " + ct.id() + " --capability net_admin:maybe").status == 2);
    REQUIRE(ubcctl("set " + ct.id() + " --capability sys_time:on --capability NET_ADMIN:off").status == 0);
    const auto config = ubc::CtConfig::load(ubc::config_dir() / (ct.id() + ".conf"));
    CHECK(config.get("CAPABILITY").value_or("") == "NET_ADMIN:off SYS_TIME:on");
    // Only from the next start, as vzctl: the running CT keeps what it started with.
    CHECK(ubcctl("status " + ct.id()).output.find("sys_time") == std::string::npos);
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    const auto status = ubcctl("status " + ct.id());
    CAPTURE(status.output);
    CHECK(status.output.find("CAPABILITY ") != std::string::npos);
    CHECK(status.output.find("sys_time") != std::string::npos);
    CHECK(status.output.find("net_admin") == std::string::npos);
    const auto list = ubcctl("list -o ctid,capability");
    CHECK(list.output.find("sys_time") != std::string::npos);
    const auto inside = ct.exec("grep CapBnd /proc/self/status");
    const std::uint64_t granted =
        (ubc::default_ct_capabilities() | ubc::capability_bit(CAP_SYS_TIME)) & ~ubc::capability_bit(CAP_NET_ADMIN);
    CHECK(inside.output.find(hex(granted)) != std::string::npos);
    // The filter lets a granted capability's calls through (NULL time: EFAULT, not EPERM).
    const int clock_settime = ::seccomp_syscall_resolve_name("clock_settime");
    CHECK(attempt(ct, "syscall " + std::to_string(clock_settime)) == std::to_string(clock_settime) + " EFAULT");
    CHECK(ct.exec("ip link add ubcdummy0 type dummy 2>&1").status != 0);  // net_admin is off
  }

  TEST_CASE("a CT cannot write its own cgroup limits, even from nested user and cgroup namespaces") {
    const auto doctor = ubcctl("doctor");
    CHECK(doctor.output.find("has nsdelegate") != std::string::npos);
    for (const auto& [kind, flags] : ct_kinds()) {
      CAPTURE(kind);
      RunningCt ct("ct-cg-" + kind, flags);
      REQUIRE(ubcctl("set " + ct.id() + " --physpages 64M").status == 0);
      const fs::path memory_max = ubc::test::host().cgroup_of(ct.id()) / "memory.max";
      const std::string before = ubc::cgroup::read_file(memory_max);
      const std::string verdict = attempt(ct, "nested-cgroup memory.max max");
      CHECK(verdict != "ok");
      CHECK(attempt(ct, "nested-cgroup cpu.max max") != "ok");
      CHECK(attempt(ct, "nested-cgroup pids.max max") != "ok");
      // Its own cgroup is delegated to it, as systemd needs: it makes cgroups below it and
      // moves its processes there, but the limit files on its /sys/fs/cgroup stay the host's.
      CHECK(ct.exec("echo max > /sys/fs/cgroup/memory.max").status != 0);
      CHECK(ct.exec("echo max > /sys/fs/cgroup/cpu.max").status != 0);
      CHECK(ct.exec("echo 1 > /sys/fs/cgroup/cgroup.max.descendants").status != 0);
      CHECK(ct.exec("mkdir /sys/fs/cgroup/own && echo $$ > /sys/fs/cgroup/own/cgroup.procs && cat /proc/self/cgroup")
                .output == "0::/own\n");
      // How many and how deep is bounded, and not its to raise.
      CHECK(ct.exec("cat /sys/fs/cgroup/cgroup.max.descendants /sys/fs/cgroup/cgroup.max.depth").output ==
            "1024\n16\n");
      CHECK(ct.exec("echo max > /sys/fs/cgroup/cgroup.max.depth").status != 0);
      CHECK(ct.exec("cd /sys/fs/cgroup && for i in $(seq 1 20); do mkdir d 2>/dev/null && cd d || break; done; echo $i")
                .output == "17\n");  // the 17th level is refused
      CHECK(ubc::cgroup::read_file(memory_max) == before);
    }
  }

  TEST_CASE("set's writes into a CT's files (hostname, resolver, passwords) stay in them, whatever its root links") {
    auto host_file = [](const char* path) {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      return text.str();
    };
    const std::string shadow = host_file("/etc/shadow"), resolv = host_file("/etc/resolv.conf"),
                      hostname = host_file("/etc/hostname");
    auto host_untouched = [&] {
      CHECK(host_file("/etc/shadow") == shadow);
      CHECK(host_file("/etc/resolv.conf") == resolv);
      CHECK(host_file("/etc/hostname") == hostname);
    };
    for (const auto& [kind, flags] : ct_kinds()) {
      CAPTURE(kind);
      RunningCt ct("ct-files-" + kind, flags);
      const std::string set = "set " + ct.id();
      // Links climbing out, absolute, and through the CT's /proc to its init's root.
      REQUIRE(ct.exec("ln -sf ../../../../../../etc/shadow /etc/shadow; ln -sf /../../etc/hostname /etc/hostname; "
                      "ln -sf /proc/1/root/../../../etc/resolv.conf /etc/resolv.conf")
                  .status == 0);
      CHECK(ubcctl(set + " --userpasswd root:x").status != 0);  // not a regular file: refused
      CHECK(ubcctl(set + " --nameserver 192.0.2.1 --hostname linked").status == 0);
      CHECK(ct.exec("hostname").output == "linked\n");
      CHECK(ct.exec("test -L /etc/hostname && echo link").output == "link\n");  // left alone
      CHECK(ct.exec("test -L /etc/resolv.conf || cat /etc/resolv.conf").output == "nameserver 192.0.2.1\n");
      host_untouched();
      // A fifo or a file too big to be a shadow file: refused at once, nothing hangs.
      REQUIRE(ct.exec("rm /etc/shadow && mkfifo /etc/shadow").status == 0);
      CHECK(ubcctl(set + " --userpasswd root:x").status != 0);
      REQUIRE(ct.exec("rm /etc/shadow && dd if=/dev/zero of=/etc/shadow bs=1M count=5 2>/dev/null").status == 0);
      const auto big = ubcctl(set + " --userpasswd root:x");
      CHECK(big.status != 0);
      CHECK(big.output.find("too big") != std::string::npos);
      // /etc itself a link climbing out: it stops at the CT's /, where the write lands.
      REQUIRE(ct.exec("mv /etc /etc.real && ln -s ../../.. /etc").status == 0);
      CHECK(ubcctl(set + " --nameserver 192.0.2.2").status == 0);
      CHECK(ct.exec("cat /resolv.conf").output == "nameserver 192.0.2.2\n");
      REQUIRE(ct.exec("rm /etc && mv /etc.real /etc").status == 0);
      host_untouched();
    }
  }

  TEST_CASE("load remounts cgroup2 with nsdelegate and says so") {
    const fs::path mount = ubc::cgroup::find_v2_mount().value();
    REQUIRE(ubcctl("unload").status == 0);
    ubc::test::reopen_host();
    const EngineLoadedAtExit loaded_again;
    // Take it away, as a host that mounted cgroup2 by hand has it (cgroup2's remount sets
    // exactly the flags it is given).
    REQUIRE(::mount(nullptr, mount.c_str(), nullptr, MS_REMOUNT, "") == 0);
    REQUIRE_FALSE(ubc::cgroup::has_nsdelegate(mount));
    CHECK(ubcctl("doctor").output.find("without nsdelegate") != std::string::npos);
    const auto loaded = ubcctl("load");
    CAPTURE(loaded.output);
    REQUIRE(loaded.status == 0);
    CHECK(loaded.output.find("remounted " + mount.string() + " with nsdelegate") != std::string::npos);
    CHECK(ubc::cgroup::has_nsdelegate(mount));
  }

  TEST_CASE("unload refuses under running CTs without --force; start refuses without the engine") {
    const EngineLoadedAtExit loaded_again;
    {
      RunningCt ct("ct-unload", "");
      const auto refused = ubcctl("unload");
      CHECK(refused.status == 1);
      CHECK(refused.output.find("ct-unload") != std::string::npos);
      CHECK(refused.output.find("unload --force") != std::string::npos);
      CHECK(ubc::test::host().engine_loaded());
      CHECK(attempt(ct, "syscall 321") == "321 EPERM");  // bpf(): still refused
    }
    const fs::path root = fs::temp_directory_path() / "ubc-rootfs-ct-noengine";
    fs::remove_all(root);
    REQUIRE(std::system(("ubc-mkrootfs " + root.string() + " >/dev/null").c_str()) == 0);
    REQUIRE(ubcctl("create ct-noengine --root " + root.string()).status == 0);
    REQUIRE(ubcctl("unload").status == 0);  // nothing runs now
    ubc::test::reopen_host();
    {
      const auto refused = ubcctl("start ct-noengine");
      CHECK(refused.status == 1);
      CHECK(refused.output.find("engine is not loaded") != std::string::npos);
      CHECK(ubcctl("status ct-noengine").output.starts_with("CTID ct-noengine exist mounted down\n"));
      const auto forced = ubcctl("start --force ct-noengine");
      CHECK(forced.status == 0);
      CHECK(forced.output.find("warning") != std::string::npos);
      CHECK(ubcctl("destroy --force ct-noengine").status == 0);
      fs::remove_all(root);
    }
    const auto loaded = ubcctl("load");
    REQUIRE_MESSAGE(loaded.status == 0, loaded.output);
  }

  TEST_CASE("user namespaces by default: each CT its own id range, recorded; --userns no opts out") {
    RunningCt first("ct-range-a", ""), second("ct-range-b", "");
    auto range_of = [](const RunningCt& ct) {
      return ubc::CtConfig::load(ubc::config_dir() / (ct.id() + ".conf")).get("USERNS_IDMAP").value_or("");
    };
    const std::string a = range_of(first), b = range_of(second);
    CAPTURE(a);
    CAPTURE(b);
    REQUIRE(!a.empty());
    REQUIRE(!b.empty());
    CHECK(a != b);
    const unsigned a_first = std::stoul(a), b_first = std::stoul(b);
    CHECK((a_first + 65536 <= b_first || b_first + 65536 <= a_first));
    // The CT's root is that range's first id on the host, and owns its files inside.
    CHECK(status_field(init_of(first), "Uid").find(std::to_string(a_first)) != std::string::npos);
    CHECK(first.exec("stat -c %u /etc/passwd").output == "0\n");
    CHECK(first.exec("touch /root/mine && echo written").output == "written\n");
    struct stat on_disk {};
    REQUIRE(::stat((first.root() / "root/mine").c_str(), &on_disk) == 0);
    CHECK(on_disk.st_uid == a_first);  // never host root's, even for a setuid file it makes
    // One CT's root cannot act on another's files (their owners differ on the host).
    CHECK(b_first != a_first);
    // Opting out warns, and the config says so.
    const auto created = ubcctl("create ct-range-c --root " + first.root().string() + " --userns no");
    CHECK(created.status == 0);
    CHECK(created.output.find("warning") != std::string::npos);
    CHECK(ubc::CtConfig::load(ubc::config_dir() / "ct-range-c.conf").get("USERNS").value_or("") == "no");
    CHECK(ubcctl("destroy ct-range-c").status == 0);
  }
}
