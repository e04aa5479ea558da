// CTs as directories, isolated with namespaces (issue 4), in a real kernel: a busybox root
// filesystem made by ubc-mkrootfs, driven through ubcctl as a user drives it.
#include <crypt.h>
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loader/cgroup.h"
#include "running_ct.h"
#include "ubc/ct_config.h"
#include "workload.h"

namespace fs = std::filesystem;
using ubc::test::RunningCt;
using ubc::test::ScopedCt;
using ubc::test::ubcctl;
using ubc::test::Workload;

namespace {

// The held column of each `resource` row in a user_beancounters text, in order.
std::vector<std::uint64_t> held_of(const std::string& resource, const std::string& text) {
  std::vector<std::uint64_t> helds;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string word;
    while (words >> word && word != resource) {
    }
    std::uint64_t held = 0;
    if (word == resource && words >> held) helds.push_back(held);
  }
  return helds;
}

// ubc-procfs processes serving CT `ctid`'s /proc view.
int view_servers_of(const std::string& ctid) {
  int servers = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find("ubc-procfs") != std::string::npos &&
        cmdline.find(std::string(1, '\0') + ctid + '\0') != std::string::npos)
      ++servers;
  }
  return servers;
}

// The server ends with its CT's init; it may take a moment to see the end.
bool wait_for_no_view_server(const std::string& ctid) {
  for (int tries = 0; tries < 100; ++tries) {
    if (view_servers_of(ctid) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool mounted_under(const fs::path& dir) {
  std::ifstream mounts("/proc/self/mountinfo");
  for (std::string line; std::getline(mounts, line);)
    if (line.find(" " + dir.string()) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_SUITE("containers") {
  TEST_CASE("a CT runs its init as PID 1, sees no host process, has its own hostname and address") {
    RunningCt ct("ct-iso", "--hostname iso1 --ipadd 10.77.0.11");
    const auto ps = ct.exec("ps -o pid,comm");
    CHECK(ps.status == 0);
    CHECK(ps.output.find("    1 init") != std::string::npos);
    CHECK(ps.output.find("ubc-kernel-tests") == std::string::npos);
    CHECK(ct.exec("hostname").output == "iso1\n");
    CHECK(ct.exec("ip -4 addr show dev eth0").output.find("inet 10.77.0.11/32") != std::string::npos);
    const auto status = ubcctl("status " + ct.id());
    CHECK(status.output.starts_with("CTID " + ct.id() + " exist mounted running\n"));
    const auto list = ubcctl("list -o ctid,status,ip,hostname");
    CAPTURE(list.output);
    CHECK(list.output.find("      CTID       STATUS      IP_ADDR     HOSTNAME") != std::string::npos);
    CHECK(list.output.find("    ct-iso      running   10.77.0.11         iso1") != std::string::npos);
    // /proc is the CT's, /sys is read-only, /dev has its own devpts.
    CHECK(ct.exec("cat /proc/1/comm").output == "init\n");
    CHECK(ct.exec("touch /sys/kernel/x 2>&1; echo $?").output.find("Read-only") != std::string::npos);
    CHECK(ct.exec("ls /dev/pts").output.find("ptmx") != std::string::npos);
  }

  TEST_CASE("inside a CT, /proc/user_beancounters shows its own rows, live, read-only; the rest of /proc is procfs") {
    RunningCt ct("ct-ubc", "");
    ct.set_numfile_limit(1000);
    const auto view = ct.exec("cat /proc/user_beancounters");
    REQUIRE(view.status == 0);
    CAPTURE(view.output);
    CHECK(view.output.starts_with("Version: 2.5\n"));
    CHECK(view.output.find("    ct-ubc: kmemsize") != std::string::npos);
    CHECK(view.output.find("numfile") != std::string::npos);
    CHECK(view.output.find(" 1000 ") != std::string::npos);  // the limit just set
    // A process in the CT holds 100 more files and 20000 unread bytes in sockets of the CT's
    // own network namespace between two readings: the rows follow them (other processes of
    // the CT come and go meanwhile, hence the margin), and the host reads the same sockets.
    const auto live = ct.exec(
        "cat /proc/user_beancounters; (echo open 100; echo sockbufs 20000; sleep 60) </dev/null 2>/dev/null | "
        "ubc-test-workload >/tmp/held 2>&1 & while [ $(grep -c ^ok /tmp/held) -lt 2 ]; do sleep 0.1; done; "
        "cat /proc/user_beancounters");
    REQUIRE(live.status == 0);
    const auto numfile_helds = held_of("numfile", live.output);
    REQUIRE(numfile_helds.size() == 2);
    CHECK(numfile_helds[1] >= numfile_helds[0] + 90);
    const auto dgram_helds = held_of("dgramrcvbuf", live.output);
    REQUIRE(dgram_helds.size() == 2);
    CHECK(dgram_helds[1] >= 20000);
    CHECK(ubc::test::host().counter(ct.id(), UBC_DGRAMRCVBUF).held >= 20000);
    CHECK(ct.exec("kill $(pidof ubc-test-workload)").status == 0);
    // Its size is the size of what a read returns (sendfile reads up to the size).
    const auto sizes = ct.exec("stat -c %s /proc/user_beancounters; wc -c < /proc/user_beancounters");
    const auto newline_at = sizes.output.find('\n');
    REQUIRE(newline_at != std::string::npos);
    CHECK(std::stoul(sizes.output.substr(0, newline_at)) == std::stoul(sizes.output.substr(newline_at + 1)));
    // Root in the CT cannot change it, and only root reads it, as in OpenVZ.
    CHECK(ct.exec("echo 0 > /proc/user_beancounters").status != 0);
    CHECK(ct.exec("ls -l /proc/user_beancounters").output.starts_with("-r--------    1 root     root"));
    // Below the view's first level everything is the CT's own procfs, magic links included.
    CHECK(ct.exec("readlink /proc/self/exe").output == "/bin/busybox\n");
    const auto self = ct.exec("echo $$; exec readlink /proc/self");  // one process, two ways
    const auto newline = self.output.find('\n');
    REQUIRE(newline != std::string::npos);
    CHECK(self.output.substr(newline + 1) == self.output.substr(0, newline + 1));
    CHECK(ct.exec("cat /proc/self/fd/0 </proc/1/comm").output == "init\n");
    // A pipe of the CT's own, reopened through its magic link (the host's pipe that carries
    // exec's output is host root's: a CT of its own user namespace may not reopen it).
    CHECK(ct.exec("echo hello | cat /proc/self/fd/0").output == "hello\n");
    CHECK(ct.exec("grep -c MemTotal /proc/meminfo").output == "1\n");
    const auto listing = ct.exec("ls /proc");
    CHECK(listing.output.find("user_beancounters") != std::string::npos);
    CHECK(listing.output.find("meminfo") != std::string::npos);
  }

  TEST_CASE("one whole-host read gives each CT the sockets of its own network namespace") {
    // Two CTs, each with a network namespace of its own, and a third in the host's: the
    // read runs the socket iterators once per namespace, and each CT gets only its own.
    RunningCt first("ct-read-a", "");
    RunningCt second("ct-read-b", "");
    ScopedCt on_host("ct-read-host");
    Workload host_side(on_host);
    REQUIRE(host_side.ask("sockbufs 60000").at(0) == 0);
    const std::string hold =
        "(echo sockbufs 20000; sleep 60) </dev/null 2>/dev/null | ubc-test-workload >/tmp/held 2>&1 & "
        "while ! grep -q ^ok /tmp/held; do sleep 0.1; done";
    REQUIRE(first.exec(hold).status == 0);
    std::map<std::string, std::uint64_t> dgram;
    for (const auto& usage : ubc::test::host().usage_of_all().containers)
      for (const auto& row : usage.resources)
        if (row.resource->id == UBC_DGRAMRCVBUF) dgram[usage.id] = row.counter.held;
    CHECK(dgram.at("ct-read-a") >= 20000);
    CHECK(dgram.at("ct-read-a") < 50000);  // not the host CT's 60000 as well
    CHECK(dgram.at("ct-read-b") == 0);
    CHECK(dgram.at("ct-read-host") >= 60000);
    CHECK(first.exec("kill $(pidof ubc-test-workload)").status == 0);
    CHECK(host_side.finish() == 0);
  }

  TEST_CASE("two CTs reach each other; each one's nftables rules are its own") {
    RunningCt first("ct-net-a", "--ipadd 10.77.0.21");
    RunningCt second("ct-net-b", "--ipadd 10.77.0.22");
    CHECK(first.exec("ping -c 1 -W 5 10.77.0.22").status == 0);
    CHECK(second.exec("ping -c 1 -W 5 10.77.0.21").status == 0);
    if (::access("/usr/sbin/nft", X_OK) == 0) {
      // The host's nft, run in the first CT's network namespace through its init.
      const auto init_pid = [&](const std::string& id) {
        std::ifstream in(ubc::test::run_dir() / (id + ".pid"));
        std::string pid;
        in >> pid;
        return pid;
      };
      const std::string in_first = "nsenter -t " + init_pid(first.id()) + " -n nft ";
      const std::string in_second = "nsenter -t " + init_pid(second.id()) + " -n nft ";
      REQUIRE(std::system(
                  (in_first + "'add table inet own; add chain inet own c; add rule inet own c counter'").c_str()) == 0);
      CHECK(std::system((in_first + "list table inet own >/dev/null").c_str()) == 0);
      CHECK(std::system((in_second + "list table inet own >/dev/null 2>&1").c_str()) != 0);
      CHECK(std::system("nft list table inet own >/dev/null 2>&1") != 0);  // nor the host's
    } else {
      MESSAGE("SKIP nftables isolation: no nft on this host");
    }
  }

  TEST_CASE("IPv6: CTs reach each other and the host by their own addresses, next to IPv4") {
    RunningCt first("ct-v6-a", "--ipadd fd00:77::51 --ipadd 10.77.0.51");
    RunningCt second("ct-v6-b", "--ipadd fd00:77::52");
    CHECK(first.exec("ip -6 addr show dev eth0").output.find("inet6 fd00:77::51/128") != std::string::npos);
    CHECK(first.exec("ip -4 addr show dev eth0").output.find("inet 10.77.0.51/32") != std::string::npos);
    const auto to_second = first.exec("ping -c 1 -W 5 fd00:77::52");
    CHECK_MESSAGE(to_second.status == 0, to_second.output);
    CHECK(second.exec("ping -c 1 -W 5 fd00:77::51").status == 0);
    CHECK(std::system("busybox ping -c 1 -W 5 fd00:77::52 >/dev/null") == 0);  // from the host
    const auto list = ubcctl("list -o ctid,ip");
    CAPTURE(list.output);
    CHECK(list.output.find("fd00:77::51") != std::string::npos);
  }

  TEST_CASE("set acts on a running CT at once (hostname, addresses, resolver, passwords); --save keeps them") {
    RunningCt ct("ct-live", "--hostname before --ipadd 10.77.0.61");
    REQUIRE(ct.exec("echo old >/etc/hostname; printf \"root:*:1::::::\\nguest:!:1::::::\\n\" >/etc/shadow; "
                    "chmod 640 /etc/shadow; printf \"options ndots:1\\nnameserver 10.9.9.9\\n\" >/etc/resolv.conf")
                .status == 0);
    const fs::path config_file = ubc::config_dir() / (ct.id() + ".conf");
    auto saved = [&](const char* key) { return ubc::CtConfig::load(config_file).get(key).value_or(""); };

    const auto set = ubcctl(
        "set ct-live --hostname during --ipadd 10.77.0.62 --ipadd fd00:77::62 --ipdel 10.77.0.61 "
        "--nameserver 192.0.2.53 --searchdomain ct.example");
    REQUIRE_MESSAGE(set.status == 0, set.output);
    CHECK(ct.exec("hostname").output == "during\n");
    CHECK(ct.exec("cat /etc/hostname").output == "during\n");
    const std::string addresses = ct.exec("ip addr show dev eth0").output;
    CAPTURE(addresses);
    CHECK(addresses.find("inet 10.77.0.62/32") != std::string::npos);
    CHECK(addresses.find("inet6 fd00:77::62/128") != std::string::npos);
    CHECK(addresses.find("10.77.0.61") == std::string::npos);
    CHECK(std::system("busybox ping -c 1 -W 5 fd00:77::62 >/dev/null") == 0);  // the host's route to it
    CHECK(std::system("ip route show 10.77.0.61/32 | grep -q .") != 0);        // and none to the old one
    CHECK(ct.exec("cat /etc/resolv.conf").output == "options ndots:1\nsearch ct.example\nnameserver 192.0.2.53\n");
    // As vzctl: not saved without --save.
    CHECK(saved("HOSTNAME") == "before");
    CHECK(saved("IP_ADDRESS") == "10.77.0.61");
    CHECK(saved("NAMESERVER").empty());

    REQUIRE(ubcctl("set ct-live --hostname kept --nameserver 192.0.2.54 --save").status == 0);
    CHECK(saved("HOSTNAME") == "kept");
    CHECK(saved("NAMESERVER") == "192.0.2.54");
    CHECK(ct.exec("hostname").output == "kept\n");

    REQUIRE(ubcctl("set ct-live --userpasswd guest:pa55word").status == 0);
    const std::string guest = ct.exec("grep ^guest: /etc/shadow").output;
    const std::string hash = guest.substr(6, guest.find(':', 6) - 6);
    crypt_data data{};
    CHECK_MESSAGE(std::string(::crypt_r("pa55word", hash.c_str(), &data)) == hash, guest);
    CHECK(ct.exec("stat -c \"%a %u\" /etc/shadow").output == "640 0\n");
    CHECK(ubcctl("set ct-live --userpasswd nobody:x").status != 0);  // no such user: refused, not created
    CHECK(ubcctl("set ct-live --userpasswd :x").status != 0);
    CHECK(ubcctl("set ct-live --nameserver not-an-address").status != 0);
    CHECK(saved("NAMESERVER") == "192.0.2.54");

    // The next start applies what was saved; what was only live is gone.
    REQUIRE(ubcctl("restart ct-live").status == 0);
    CHECK(ct.exec("hostname").output == "kept\n");
    const std::string restarted = ct.exec("ip addr show dev eth0").output;
    CHECK(restarted.find("inet 10.77.0.61/32") != std::string::npos);
    CHECK(restarted.find("10.77.0.62") == std::string::npos);
    CHECK(ct.exec("cat /etc/resolv.conf").output == "options ndots:1\nsearch ct.example\nnameserver 192.0.2.54\n");

    // A stopped CT: settings are saved without --save, the password goes into its files.
    REQUIRE(ubcctl("stop ct-live").status == 0);
    REQUIRE(ubcctl("set ct-live --userpasswd root:r00t --hostname stopped").status == 0);
    CHECK(saved("HOSTNAME") == "stopped");
    std::ifstream shadow(ct.root() / "etc" / "shadow");
    std::string root_line;
    std::getline(shadow, root_line);
    const std::string root_hash = root_line.substr(5, root_line.find(':', 5) - 5);
    CHECK_MESSAGE(std::string(::crypt_r("r00t", root_hash.c_str(), &data)) == root_hash, root_line);
  }

  TEST_CASE("set --netdev_add moves a host interface into the CT at start; --netdev_del stops it") {
    REQUIRE(std::system("ip link add ubctest0 type dummy") == 0);
    RunningCt ct("ct-netdev", "");
    REQUIRE(ubcctl("set " + ct.id() + " --netdev_add ubctest0").status == 0);
    CHECK(ct.exec("ip link show ubctest0 2>&1").status != 0);  // only from the next start
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    CHECK(ct.exec("ip link show ubctest0").output.find("ubctest0") != std::string::npos);
    CHECK(std::system("ip link show ubctest0 >/dev/null 2>&1") != 0);  // gone from the host
    CHECK(ubcctl("set " + ct.id() + " --netdev_add bad/name").status != 0);
    REQUIRE(ubcctl("set " + ct.id() + " --netdev_del ubctest0").status == 0);
    CHECK(ubc::CtConfig::load(ubc::config_dir() / (ct.id() + ".conf")).get("NETDEV").value_or("") == "");
    // A device the host does not have: start fails whole, naming it, and leaves nothing running.
    REQUIRE(ubcctl("stop " + ct.id()).status == 0);
    REQUIRE(ubcctl("set " + ct.id() + " --netdev_add ubcmissing0").status == 0);
    const auto refused = ubcctl("start " + ct.id());
    CHECK(refused.status != 0);
    CHECK(refused.output.find("ubcmissing0") != std::string::npos);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted down\n"));
    CHECK_FALSE(ubc::cgroup::is_populated(ubc::test::host().cgroup_of(ct.id())));
    std::system("ip link del ubctest0 2>/dev/null");  // a dummy dies with the CT's netns anyway
  }

  TEST_CASE("set --devices grants host device nodes, read-only where asked; no other node opens") {
    RunningCt ct("ct-devices", "");
    CHECK(ct.exec("test -e /dev/ttyS1").status != 0);
    // zero:r narrows a standard node to reading; ttyS1 is a host node granted in full.
    REQUIRE(ubcctl("set " + ct.id() + " --devices zero:r --devices ttyS1:rw").status == 0);
    // A node the root file system brought along (a template unpacked as root keeps them).
    REQUIRE(std::system(("mknod " + (ct.root() / "hostmem").string() + " c 1 1").c_str()) == 0);
    const auto restarted = ubcctl("restart " + ct.id());
    REQUIRE_MESSAGE(restarted.status == 0, restarted.output);
    CHECK(ct.exec("test -c /dev/ttyS1").status == 0);
    CHECK(ct.exec("head -c 1 /dev/zero >/dev/null").status == 0);  // r: reads
    const auto write = ct.exec("echo ubc > /dev/zero");            // but never writes
    CAPTURE(write.output);
    CHECK(write.status != 0);
    CHECK(write.output.find("Operation not permitted") != std::string::npos);
    // The CT's root is mounted nodev, so the node is refused before the engine's rule is asked.
    const auto host_memory = ct.exec("head -c 1 /hostmem");
    CAPTURE(host_memory.output);
    CHECK(host_memory.status != 0);
    CHECK(host_memory.output.find("Permission denied") != std::string::npos);
    // The standard nodes and the CT's own ptys still work.
    CHECK(ct.exec("head -c 4 /dev/urandom >/dev/null && echo x >/dev/null && exec 3<>/dev/ptmx").status == 0);
    CHECK(ct.exec("mknod /dev/mine c 1 1 2>&1").status != 0);  // no CAP_MKNOD either
    CHECK(ubcctl("set " + ct.id() + " --devices ../mem").status != 0);
    // A new engine starts with no rules; load gives the running CT its own back.
    REQUIRE(ubcctl("unload --force").status == 0);
    const auto loaded = ubcctl("load");
    REQUIRE_MESSAGE(loaded.status == 0, loaded.output);
    ubc::test::reopen_host();
    CHECK(loaded.output.find("device rules restored for 1 running CT") != std::string::npos);
    CHECK(ct.exec("head -c 1 /hostmem").status != 0);
    CHECK(ct.exec("head -c 1 /dev/zero >/dev/null").status == 0);
    // Stopped, the CT's cgroup keeps no device rules: host tasks placed in it open anything.
    REQUIRE(ubcctl("stop " + ct.id()).status == 0);
    CHECK(ubcctl("exec " + ct.id() + " -- head -c 1 " + (ct.root() / "hostmem").string() + " >/dev/null").status == 0);
  }

  TEST_CASE("stop leaves no process, mount, network device or nested cgroup behind; start again works") {
    RunningCt ct("ct-stop", "--ipadd 10.77.0.31");
    const fs::path cgroup = ubc::test::host().cgroup_of(ct.id());
    REQUIRE(view_servers_of(ct.id()) == 1);
    CHECK(ct.exec("mkdir -p /tmp/x && echo ok").status == 0);
    fs::create_directory(cgroup / "nested");  // as a CT's own service manager would
    REQUIRE(ubcctl("stop " + ct.id()).status == 0);
    CHECK_FALSE(ubc::cgroup::is_populated(cgroup));
    CHECK_FALSE(fs::exists(cgroup / "nested"));
    CHECK_FALSE(mounted_under(ct.root()));
    CHECK(wait_for_no_view_server(ct.id()));
    CHECK(std::system(("ip link show " + std::string("dev lo >/dev/null && ! ip -o link | grep -q ' ubc'")).c_str()) ==
          0);
    CHECK(ubcctl("status " + ct.id()).output.starts_with("CTID " + ct.id() + " exist mounted down\n"));
    REQUIRE(ubcctl("start " + ct.id()).status == 0);
    CHECK(ct.exec("hostname").status == 0);
  }

  TEST_CASE("a CT's host helpers run in its helper cgroup, outside the CT's; destroy removes it") {
    RunningCt ct("ct-helpers", "");
    const fs::path helpers = ubc::test::host().helper_cgroup_of(ct.id());
    const fs::path cgroup = ubc::test::host().cgroup_of(ct.id());
    CHECK_FALSE(helpers.string().starts_with(cgroup.string() + "/"));  // out of the CT's reach
    std::map<std::string, int> helper_programs;
    std::istringstream procs(ubc::cgroup::read_file(helpers / "cgroup.procs"));
    for (pid_t pid; procs >> pid;) {
      std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
      std::string name;
      std::getline(comm, name);
      ++helper_programs[name];
    }
    CHECK(helper_programs["ubc-procfs"] == 1);
    CHECK(helper_programs["ubc-console"] == 1);
    // The CT cannot see them: its cgroup namespace is rooted at its own cgroup.
    CHECK(ct.exec("cat /proc/self/cgroup").output == "0::/\n");
    REQUIRE(ubcctl("destroy --force " + ct.id()).status == 0);
    CHECK_FALSE(fs::exists(helpers));
  }

  TEST_CASE("clone yields an independent CT with the same files and no address") {
    RunningCt ct("ct-orig", "--ipadd 10.77.0.41");
    CHECK(ct.exec("echo original > /root/note").status == 0);
    REQUIRE(ubcctl("clone " + ct.id() + " ct-copy").status == 0);
    REQUIRE(ubcctl("start ct-copy").status == 0);
    CHECK(ubcctl("exec ct-copy -- cat /root/note").output == "original\n");
    CHECK(ubcctl("exec ct-copy -- sh -c 'echo changed > /root/note'").status == 0);
    CHECK(ct.exec("cat /root/note").output == "original\n");
    const auto list = ubcctl("list -a -o ctid,ip");
    CAPTURE(list.output);
    CHECK(list.output.find("   ct-copy            - ") != std::string::npos);
    CHECK(ubcctl("destroy --force ct-copy").status == 0);
  }

  TEST_CASE("a CT from an OS template: unpacked on create, removed on destroy") {
    const fs::path work = fs::temp_directory_path() / "ubc-template-test";
    fs::remove_all(work);
    REQUIRE(std::system(("ubc-mkrootfs " + (work / "tree").string() + " >/dev/null && tar -czf " +
                         (work / "busybox.tar.gz").string() + " -C " + (work / "tree").string() + " .")
                            .c_str()) == 0);
    const fs::path area = work / "private";
    const auto created =
        ubcctl("create ct-tmpl --ostemplate " + (work / "busybox.tar.gz").string() + " --private " + area.string());
    REQUIRE_MESSAGE(created.status == 0, created.output);
    CHECK(fs::exists(area / "sbin/init"));
    REQUIRE(ubcctl("start ct-tmpl").status == 0);
    CHECK(ubcctl("exec ct-tmpl -- hostname").output == "ct-tmpl\n");
    // A host directory mounted into the private area survives destroy: refused, nothing removed.
    const fs::path host_dir = work / "host-data";
    fs::create_directories(host_dir);
    std::ofstream(host_dir / "keep") << "host\n";
    fs::create_directories(area / "mnt/data");
    REQUIRE(std::system(("mount --bind " + host_dir.string() + " " + (area / "mnt/data").string()).c_str()) == 0);
    const auto refused = ubcctl("destroy --force ct-tmpl");
    CHECK(refused.status == 1);
    CHECK(refused.output.find("mount point") != std::string::npos);
    CHECK(fs::exists(host_dir / "keep"));
    CHECK(fs::exists(area / "sbin/init"));
    CHECK(ubc::test::host().exists("ct-tmpl"));
    REQUIRE(std::system(("umount " + (area / "mnt/data").string()).c_str()) == 0);
    CHECK(ubcctl("destroy --force ct-tmpl").status == 0);
    CHECK_FALSE(fs::exists(area));
    CHECK(fs::exists(host_dir / "keep"));
    fs::remove_all(work);
  }

  TEST_CASE("a CT's console keeps its last MiB on the host, however much the CT writes") {
    // (Without a user namespace, so that the CT's root may reopen its init's console pipe.)
    RunningCt ct("ct-console", "--userns no");
    const auto flood = ct.exec("head -c 3000000 /dev/zero > /proc/1/fd/1; echo done");
    CHECK(flood.output == "done\n");
    const fs::path console = ubc::test::run_dir() / "ct-console.console";
    for (int i = 0; i < 100 && (!fs::exists(console.string() + ".1") || fs::file_size(console) < 100000); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(fs::file_size(console) <= (1u << 20));
    REQUIRE(fs::exists(console.string() + ".1"));
    CHECK(fs::file_size(console.string() + ".1") == (1u << 20));
  }

  TEST_CASE("console CT: init's terminal, one attached at a time, Esc . detaches, kept while nobody is attached") {
    RunningCt ct("ct-tty", "");
    // An interactive shell on the console, as a getty's would be.
    REQUIRE(ct.exec("setsid sh -i </dev/console >/dev/console 2>&1 &").status == 0);
    const std::string ubcctl_binary = (fs::read_symlink("/proc/self/exe").parent_path() / "ubcctl").string();
    auto session = [&](const std::string& typing) {
      return ubc::test::shell("(" + typing + ") | " + ubcctl_binary + " console ct-tty 2>&1");
    };
    const auto typed = session("sleep 1; printf 'echo marker-$((6*7))\\n'; sleep 3");
    CAPTURE(typed.output);
    CHECK(typed.status == 0);
    CHECK(typed.output.find("marker-42") != std::string::npos);  // the shell ran it: not only the echo
    CHECK(typed.output.find("Detached from CT ct-tty") != std::string::npos);
    // Esc then '.' detaches at once: what follows is not typed into the CT.
    const auto detached = session("sleep 1; printf '\\033.echo after-$((1+1))\\n'; sleep 2");
    CHECK(detached.status == 0);
    CHECK(detached.output.find("after-2") == std::string::npos);
    // Kept on the host whoever is attached: the first session's output, not the second's.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::ifstream kept(ubc::test::run_dir() / "ct-tty.console");
    const std::string log{std::istreambuf_iterator<char>(kept), std::istreambuf_iterator<char>()};
    CHECK(log.find("marker-42") != std::string::npos);
    CHECK(log.find("after-2") == std::string::npos);
    // One at a time: a second client is refused, and says why.
    auto first = std::async(std::launch::async, [&] { return session("sleep 4"); });
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const auto second = session("sleep 1");
    CHECK(second.status != 0);
    CHECK(second.output.find("another `ubcctl console` is attached") != std::string::npos);
    CHECK(first.get().status == 0);
    // The console is the host's pty, the CT's root's; the CT sees no other host terminal, and
    // only root on the host reaches the keeper's socket.
    CHECK(ct.exec("stat -c %u /dev/console; ls /dev/pts").output == "0\nptmx\n");
    struct stat socket_info {};
    REQUIRE(::stat((ubc::test::run_dir() / "ct-tty.console.sock").c_str(), &socket_info) == 0);
    CHECK((socket_info.st_mode & 077) == 0);
    CHECK(socket_info.st_uid == 0);
    REQUIRE(ubcctl("stop ct-tty").status == 0);
    const auto stopped = ubcctl("console ct-tty");
    CHECK(stopped.status != 0);
    CHECK(stopped.output.find("not running") != std::string::npos);
    CHECK_FALSE(fs::exists(ubc::test::run_dir() / "ct-tty.console.sock"));  // its keeper is gone with it
  }

  TEST_CASE("each run of a CT is a boot of its own: a boot id not the host's, new at each start, read-only") {
    RunningCt ct("ct-boot-id", "");
    std::ifstream host_file("/proc/sys/kernel/random/boot_id");
    std::string host_id;
    std::getline(host_file, host_id);
    const std::string first = ct.exec("cat /proc/sys/kernel/random/boot_id").output;
    CHECK(first.size() == 37);  // a UUID and its newline
    CHECK(first != host_id + "\n");
    CHECK(ct.exec("echo 0 > /proc/sys/kernel/random/boot_id").status != 0);
    CHECK(ct.exec("umount /proc/sys/kernel/random/boot_id").status != 0);
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    const std::string second = ct.exec("cat /proc/sys/kernel/random/boot_id").output;
    CHECK(second.size() == 37);
    CHECK(second != first);
  }

  TEST_CASE("exec --all reaches every running CT") {
    RunningCt first("ct-all-a", "");
    RunningCt second("ct-all-b", "");
    const auto run = ubcctl("exec --all -- hostname");
    CAPTURE(run.output);
    CHECK(run.status == 0);
    CHECK(run.output.find("ct-all-a\n") != std::string::npos);
    CHECK(run.output.find("ct-all-b\n") != std::string::npos);
  }

  TEST_CASE("the CT's root cannot reach the engine or leave its root") {
    RunningCt ct("ct-escape", "");
    const fs::path marker = "/ubc-host-only-marker";
    std::ofstream(marker) << "host\n";
    const auto run = ct.exec("echo escape " + marker.string() + " | ubc-test-workload");
    std::remove(marker.c_str());
    CHECK(run.status == 0);
    const auto reply = run.output.substr(run.output.find("ok "));
    int map_errno = -1, object_errno = -1, chroot_errno = -1, marker_seen = -1, mount_errno = -1;
    std::sscanf(reply.c_str(), "ok %d %d %d %d %d", &map_errno, &object_errno, &chroot_errno, &marker_seen,
                &mount_errno);
    CHECK(map_errno == EPERM);     // bpf() is refused to every CT task
    CHECK(object_errno == EPERM);  // so are the engine's pinned maps
    CHECK(chroot_errno == 0);      // CAP_SYS_CHROOT is Docker's default too, for chroot jails in the CT:
    CHECK(marker_seen == 0);       // the classic escape leads nowhere after pivot_root detached the host
    CHECK(mount_errno == EPERM);   // no mounting cgroup2 to rewrite its own limits
  }

  TEST_CASE("with --userns the CT's root is an unprivileged host uid") {
    RunningCt ct("ct-userns", "--userns");
    const auto idmap = ubc::CtConfig::load(ubc::config_dir() / (ct.id() + ".conf")).get("USERNS_IDMAP");
    REQUIRE(idmap);
    const std::string first = idmap->substr(0, idmap->find(':'));
    CHECK(ct.exec("cat /proc/self/uid_map").output.find(" " + first + "      65536") != std::string::npos);
    CHECK(ct.exec("id -u").output == "0\n");
    std::ifstream pid_file(ubc::test::run_dir() / (ct.id() + ".pid"));
    pid_t init = 0;
    pid_file >> init;
    std::ifstream status("/proc/" + std::to_string(init) + "/status");
    std::string line;
    while (std::getline(status, line) && !line.starts_with("Uid:")) {
    }
    CHECK(line.find(first) != std::string::npos);  // as the host sees it
    // The /proc view works in a CT's own user namespace too (FUSE mounted from inside it).
    const auto view = ct.exec("cat /proc/user_beancounters");
    CHECK(view.output.find("ct-userns: kmemsize") != std::string::npos);
    CHECK(ct.exec("readlink /proc/self/exe").output == "/bin/busybox\n");
  }

  TEST_CASE("ptys opened in the CT's own devpts count in its numpty; files in its numfile") {
    RunningCt ct("ct-pty", "");
    const auto numpty = [&] { return ubc::test::host().counter(ct.id(), UBC_NUMPTY).held; };
    const std::uint64_t before = numpty();
    const auto run = ct.exec("exec 3<>/dev/ptmx 4<>/dev/ptmx; ls /dev/pts | wc -l; sleep 2");
    CHECK(run.status == 0);
    CHECK(numpty() == before);  // back once the shell is gone
    const auto held = ct.exec("exec 3<>/dev/ptmx; echo > /dev/null; cat /proc/self/status >/dev/null; sleep 0");
    CHECK(held.status == 0);
    CHECK(ubc::test::host().counter(ct.id(), UBC_NUMPTY).maxheld >= before + 2);
  }

  TEST_CASE("a vzctl config written before create is used as it is; a broken one is refused with its line") {
    const fs::path config = ubc::config_dir() / "ct-vzconf.conf";
    std::ofstream(config) << "# written by vzctl\nONBOOT=\"yes\"\nNUMFILE=\"500:600\"\nHOSTNAME=\"fromvz\"\n"
                             "SOME_VZCTL_KEY=\"kept\"\n";
    {
      RunningCt ct("ct-vzconf", "");
      CHECK(ct.exec("hostname").output == "fromvz\n");
      const ubc_counter numfile = ubc::test::host().counter(ct.id(), UBC_NUMFILE);
      CHECK(numfile.barrier == 500);
      CHECK(numfile.limit == 600);
      std::ifstream in(config);
      const std::string text((std::istreambuf_iterator<char>(in)), {});
      CHECK(text.find("SOME_VZCTL_KEY=\"kept\"") != std::string::npos);
      CHECK(text.find("# written by vzctl") != std::string::npos);
      // ONBOOT CTs start with start --all.
      REQUIRE(ubcctl("stop " + ct.id()).status == 0);
      CHECK(ubcctl("start --all").status == 0);
      CHECK(ubcctl("status " + ct.id()).output.find("running") != std::string::npos);
    }
    fs::remove(config.string() + ".destroyed");
    std::ofstream(ubc::config_dir() / "ct-badconf.conf") << "HOSTNAME=\"ok\"\nIP_ADDRESS=\"10.1.2\"\n";
    const auto refused = ubcctl("create ct-badconf --root /tmp");
    CHECK(refused.status != 0);
    CHECK(refused.output.find("ct-badconf.conf:2") != std::string::npos);
    CHECK_FALSE(ubc::test::host().exists("ct-badconf"));
    fs::remove(ubc::config_dir() / "ct-badconf.conf");
  }

  TEST_CASE("enter gives a shell on a pty of the CT's own devpts, counted in its numpty") {
    RunningCt ct("ct-enter", "--hostname entered");
    const std::uint64_t before = ubc::test::host().counter(ct.id(), UBC_NUMPTY).maxheld;
    const fs::path input = fs::temp_directory_path() / "ubc-enter-input";
    std::ofstream(input) << "hostname; tty; echo shell=$0 home=$HOME; exit 3\n";
    const auto run = ubcctl("enter " + ct.id() + " < " + input.string());
    fs::remove(input);
    CAPTURE(run.output);
    CHECK(run.status == 3);
    CHECK(run.output.find("entered") != std::string::npos);
    CHECK(run.output.find("/dev/pts/0") != std::string::npos);            // the CT's first pty
    CHECK(run.output.find("shell=-sh home=/root") != std::string::npos);  // root's login shell, per its passwd
    CHECK(ubc::test::host().counter(ct.id(), UBC_NUMPTY).maxheld == before + 1);
  }

  TEST_CASE("create --cgroup puts beancounters on another runtime's cgroup without moving it") {
    const auto mount = ubc::cgroup::find_v2_mount();
    REQUIRE(mount);
    const fs::path foreign = *mount / "ubc-test-foreign-runtime";
    fs::create_directories(foreign);
    ubc::cgroup::write_file(foreign / "cgroup.subtree_control", "+memory");  // as systemd or Docker do
    fs::create_directories(foreign / "svc");
    // A service of the other runtime, already running before ubc knows the cgroup.
    const int started = std::system(
        ("sh -c 'echo $$ > " + (foreign / "svc/cgroup.procs").string() + "; exec sleep 300' & sleep 0.3").c_str());
    REQUIRE(started == 0);
    REQUIRE(ubc::cgroup::is_populated(foreign / "svc"));
    const auto adopted = ubcctl("create svc --cgroup " + (foreign / "svc").string());
    REQUIRE_MESSAGE(adopted.status == 0, adopted.output);
    CHECK(ubcctl("list -a -o ctid").output.find("svc") != std::string::npos);
    CHECK(ubcctl("set svc --numfile 30").status == 0);
    const auto exec = ubcctl(
        "exec svc -- bash -c 'n=0; while [ $n -lt 200 ] && { exec {fd}</dev/null; } 2>/dev/null; do n=$((n+1)); "
        "done; echo opened $n'");
    CHECK(exec.output.find("opened ") != std::string::npos);
    const ubc_counter numfile = ubc::test::host().counter("svc", UBC_NUMFILE);
    CHECK(numfile.maxheld == 30);
    CHECK(numfile.failcnt == 1);
    CHECK(ubcctl("start svc").status != 0);  // the other runtime runs it
    // Deeper than the engine looks for a task's CT: refused, not silently never charged.
    fs::path deep = foreign;
    for (int level = 0; level < 9; ++level) deep /= "d";
    fs::create_directories(deep);
    const auto too_deep = ubcctl("create deep --cgroup " + deep.string());
    CHECK(too_deep.status == 2);
    CHECK(too_deep.output.find("levels deep") != std::string::npos);
    CHECK_FALSE(ubc::test::host().exists("deep"));
    for (fs::path level = deep; level != foreign; level = level.parent_path()) fs::remove(level);
    CHECK(ubcctl("destroy svc").status == 0);
    CHECK(ubc::cgroup::is_populated(foreign / "svc"));  // its service untouched
    CHECK_FALSE(ubc::test::host().exists("svc"));
    ubc::cgroup::kill_all(foreign / "svc", 10000);
    ubc::cgroup::remove_tree(foreign);
  }

  TEST_CASE("a running task is charged to the CT its cgroup is now: not yet one, adopted, forgotten, adopted again") {
    // The hooks cache each cgroup's CT (bpf/ct_cache.bpf.h): every change of the registry
    // must reach a task that keeps running in the same cgroup.
    const auto mount = ubc::cgroup::find_v2_mount();
    REQUIRE(mount);
    const fs::path foreign = *mount / "ubc-test-cache-follow";
    fs::create_directories(foreign / "svc");
    ubc::cgroup::write_file(foreign / "cgroup.subtree_control", "+memory");
    {
      ubc::test::Workload work(foreign / "svc");
      CHECK(work.ask("open 5").front() == 5);  // a host task: charged to nobody
      REQUIRE(ubcctl("create follow-a --cgroup " + (foreign / "svc").string()).status == 0);
      CHECK(work.ask("open 3").front() == 3);
      CHECK(ubc::test::host().counter("follow-a", UBC_NUMFILE).held == 3);
      REQUIRE(ubcctl("destroy follow-a").status == 0);  // forgotten, the task runs on
      REQUIRE(ubcctl("create follow-b --cgroup " + (foreign / "svc").string()).status == 0);
      CHECK(work.ask("open 2").front() == 2);
      CHECK(ubc::test::host().counter("follow-b", UBC_NUMFILE).held == 2);
      CHECK(work.finish() == 0);
    }
    CHECK(ubcctl("destroy follow-b").status == 0);
    ubc::cgroup::remove_tree(foreign);
  }
}
