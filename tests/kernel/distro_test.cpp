// A real distribution in a CT (issue 17): a Debian root from `ubc-mkrootfs --dist` boots
// systemd as its init, in its user namespace, under the engine. The template is built on
// the host (it needs Debian's archive) and handed in: UBC_TEST_DEBIAN_TEMPLATE names it
// (tests/distro_check does that); without it the suite skips, saying so.
#include <crypt.h>
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

#include "ubc/os_templates.h"
#include "workload.h"

using ubc::test::ubcctl;
namespace fs = std::filesystem;

namespace {

// The first line a TCP server at `address`:`port` sends, read by busybox nc from the host.
std::string banner_of(const std::string& address, int port) {
  const std::string command = "busybox nc -w 30 " + address + " " + std::to_string(port) + " </dev/null | head -1";
  std::string line;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[256];
    if (std::fgets(buffer, sizeof buffer, pipe)) line = buffer;
    ::pclose(pipe);
  }
  return line;
}

// A Debian CT made from the template by name, destroyed at scope exit.
class DebianCt {
 public:
  DebianCt(const std::string& id, const fs::path& tarball, const std::string& create_flags) : id_(id) {
    fs::create_directories(ubc::os_templates_dir());
    const fs::path named = ubc::os_templates_dir() / "debian-13.tar.gz";
    fs::remove(named);
    fs::create_symlink(tarball, named);
    const auto created = ubcctl("create " + id_ + " --ostemplate debian-13 " + create_flags);
    REQUIRE_MESSAGE(created.status == 0, created.output);
  }
  ~DebianCt() { ubcctl("destroy --force " + id_); }
  DebianCt(const DebianCt&) = delete;
  DebianCt& operator=(const DebianCt&) = delete;

  ubc::test::CommandRun exec(const std::string& command) const {
    return ubcctl("exec " + id_ + " -- sh -c '" + command + "'");
  }
  // Until systemd answers systemctl (its private socket exists), at most two minutes.
  void wait_for_systemd() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (exec("test -S /run/systemd/private").status != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

 private:
  std::string id_;
};

}  // namespace

TEST_SUITE("distro") {
  TEST_CASE("a Debian CT boots systemd to running, sees its own resources, answers ssh and halts cleanly") {
    const char* tarball = std::getenv("UBC_TEST_DEBIAN_TEMPLATE");
    if (!tarball || !fs::is_regular_file(tarball)) {
      MESSAGE(
          "SKIP distro: no Debian template (UBC_TEST_DEBIAN_TEMPLATE); the distro_vm suite "
          "(tests/distro_check) builds one with ubc-mkrootfs --dist trixie and runs this");
      return;
    }
    // IPv6: the VM's host has no IPv4 address of its own to reach a CT from.
    DebianCt ct("deb-boot", tarball, "--hostname deb-boot --ipadd fd00:77::61");
    REQUIRE(ubcctl("set deb-boot --physpages 512M --cpus 1 --save").status == 0);
    const auto started = ubcctl("start deb-boot");
    REQUIRE_MESSAGE(started.status == 0, started.output);

    // systemd waits for its boot to finish (under emulation, tens of seconds) once it
    // listens at all.
    ct.wait_for_systemd();
    const auto state = ct.exec("timeout 300 systemctl is-system-running --wait");
    const auto failed = ct.exec("systemctl --failed --no-pager --plain --no-legend");
    CAPTURE(failed.output);
    CAPTURE(ct.exec("journalctl -b --no-pager -q -p warning").output);
    CHECK(state.output == "running\n");
    CHECK(failed.output.empty());
    // systemd reads its units' cgroup ids (file handles are made, never opened).
    CHECK(ct.exec("journalctl -b -q --no-pager | grep -c \"Failed to get cgroup ID\"").output == "0\n");

    // Its /proc is the kernel's (systemd-tmpfiles refuses anything else), with the CT's own
    // figures over it; the hostname is the one create gave.
    CHECK(ct.exec("stat -f -c %T /proc").output == "proc\n");
    // Its root cannot take the served files or the masks away, nor write host-wide settings.
    CHECK(ct.exec("umount /proc/meminfo").status != 0);
    CHECK(ct.exec("echo 1 > /proc/meminfo").status != 0);
    CHECK(ct.exec("umount /proc/kcore").status != 0);
    CHECK(ct.exec("echo 1 > /proc/sys/kernel/sysrq").status != 0);
    CHECK(ct.exec("echo h > /proc/sysrq-trigger").status != 0);
    CHECK(ct.exec("hostname").output == "deb-boot\n");
    CHECK(ct.exec("free -b | sed -n 2p").output.find(" 536870912 ") != std::string::npos);
    CHECK(ct.exec("nproc").output == "1\n");
    // systemd runs in the CT's cgroup subtree, and its services below it.
    CHECK(ct.exec("cat /proc/1/cgroup").output == "0::/init.scope\n");
    CHECK(ct.exec("systemctl show -P ControlGroup ssh.service").output == "/system.slice/ssh.service\n");
    // journald keeps what services log.
    CHECK(ct.exec("logger -t ubc-test hello-journal; sleep 1; journalctl -q -t ubc-test --no-pager")
              .output.find("hello-journal") != std::string::npos);

    // The engine charges what systemd runs: its services' processes count in numproc.
    const auto beancounters = ubcctl("show deb-boot");
    CAPTURE(beancounters.output);
    std::istringstream rows(beancounters.output);
    long numproc = -1;
    for (std::string line; std::getline(rows, line);)
      if (const auto at = line.find("numproc"); at != std::string::npos) numproc = std::atol(line.c_str() + at + 7);
    CHECK(numproc >= 5);  // systemd, journald, logind, dbus, sshd

    // sshd answers on the CT's address, from the host.
    CHECK(banner_of("fd00:77::61", 22).starts_with("SSH-2.0-OpenSSH"));

    // systemd's status output reaches the console, kept on the host, and console-getty offers
    // a login there.
    std::ifstream console_log(ubc::test::run_dir() / "deb-boot.console");
    const std::string console{std::istreambuf_iterator<char>(console_log), std::istreambuf_iterator<char>()};
    CAPTURE(console.substr(0, 2000));
    CHECK(console.find("Welcome to") != std::string::npos);
    const std::string ubcctl_binary = (fs::read_symlink("/proc/self/exe").parent_path() / "ubcctl").string();
    const auto login =
        ubc::test::shell("(sleep 2; printf '\\n'; sleep 3) | " + ubcctl_binary + " console deb-boot 2>&1");
    CAPTURE(login.output);
    CHECK(login.output.find("login:") != std::string::npos);

    // enter gives root's login shell, bash, as login would.
    const auto entered =
        ubc::test::shell("printf 'echo shell=$0 user=$USER\\nexit\\n' | " + ubcctl_binary + " enter deb-boot 2>&1");
    CHECK_MESSAGE(entered.output.find("shell=-bash user=root") != std::string::npos, entered.output);

    // Live changes, as vzctl set made them: the hostname at once, a password in its shadow.
    REQUIRE(ubcctl("set deb-boot --hostname deb-live --userpasswd root:debian-pw").status == 0);
    CHECK(ct.exec("hostname").output == "deb-live\n");
    CHECK(ct.exec("cat /etc/hostname").output == "deb-live\n");
    const std::string root_entry = ct.exec("getent shadow root").output;
    const std::string hash = root_entry.substr(5, root_entry.find(':', 5) - 5);
    crypt_data data{};
    CHECK_MESSAGE(std::string(::crypt_r("debian-pw", hash.c_str(), &data)) == hash, root_entry);

    // stop asks systemd to halt; it does, well before the timeout's SIGKILL.
    const auto before = std::chrono::steady_clock::now();
    const auto stopped = ubcctl("stop deb-boot --timeout 120");
    const auto took = std::chrono::steady_clock::now() - before;
    CHECK_MESSAGE(stopped.status == 0, stopped.output);
    CHECK(took < std::chrono::seconds(100));

    // It starts again (the cgroups systemd made are gone), and its journal kept the last
    // run's halt.
    const auto again = ubcctl("start deb-boot");
    REQUIRE_MESSAGE(again.status == 0, again.output);
    ct.wait_for_systemd();
    CHECK(ct.exec("timeout 300 systemctl is-system-running --wait").output == "running\n");
    const auto halted = ct.exec("journalctl -q --no-pager | grep -E \"halt.target|Shutting down\"");
    CAPTURE(halted.output);
    CHECK(halted.output.find("Reached target halt.target") != std::string::npos);
    CHECK(halted.output.find("systemd[1]: Shutting down.") != std::string::npos);
    // Each run is a boot of its own in the journal.
    const auto boots = ct.exec("journalctl --list-boots --no-pager -q | wc -l");
    CHECK_MESSAGE(std::atoi(boots.output.c_str()) >= 2, boots.output);
  }
}
