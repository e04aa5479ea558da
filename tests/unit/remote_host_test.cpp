// The SSH command lines migrate runs on the destination: each word reaches the remote
// shell as one word, whatever it holds.
#include "ubc/remote_host.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

TEST_CASE("shell_quote keeps plain words and quotes the rest so that sh reads them back whole") {
  CHECK(ubc::shell_quote("ubcctl") == "ubcctl");
  CHECK(ubc::shell_quote("--check") == "--check");
  CHECK(ubc::shell_quote("/var/lib/ubc/dump/101") == "/var/lib/ubc/dump/101");
  CHECK(ubc::shell_quote("") == "''");
  CHECK(ubc::shell_quote("a b") == "'a b'");
  CHECK(ubc::shell_quote("it's") == "'it'\\''s'");
  CHECK(ubc::shell_quote("$(reboot)") == "'$(reboot)'");
  // What sh makes of it: the word as it was.
  for (const std::string word : {"a b", "it's", "$(id)", "x;y", "\"q\"", "*", "a\nb"}) {
    FILE* sh = ::popen(("printf %s " + ubc::shell_quote(word)).c_str(), "r");
    REQUIRE(sh);
    std::string read;
    for (int c; (c = std::fgetc(sh)) != EOF;) read.push_back(static_cast<char>(c));
    ::pclose(sh);
    CHECK(read == word);
  }
}

TEST_CASE("RemoteHost runs ssh in batch mode with the user's options and one quoted command line") {
  const ubc::RemoteHost remote("root@peer", {"-p", "2222"});
  const auto argv = remote.ssh_argv({"ubcctl", "migrate-receive", "101", "--check"});
  REQUIRE(argv.size() == 8);
  CHECK(argv[0] == "ssh");
  CHECK(argv[1] == "-o");
  CHECK(argv[2] == "BatchMode=yes");
  CHECK(argv[3] == "-p");
  CHECK(argv[4] == "2222");
  CHECK(argv[5] == "--");
  CHECK(argv[6] == "root@peer");
  CHECK(argv[7] == "ubcctl migrate-receive 101 --check");
  CHECK_THROWS_AS(ubc::RemoteHost("-oProxyCommand=x", {}), std::invalid_argument);
  CHECK_THROWS_AS(ubc::RemoteHost("", {}), std::invalid_argument);
}

// An ssh that ends at once, as one that cannot connect does: stands in for ssh on PATH.
struct FakeSsh {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "ubc-fake-ssh";
  std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  explicit FakeSsh(const std::string& script) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "ssh") << "#!/bin/sh\n" << script << "\n";
    std::filesystem::permissions(dir / "ssh", std::filesystem::perms::owner_all);
    ::setenv("PATH", (dir.string() + ":" + old_path).c_str(), 1);
  }
  ~FakeSsh() {
    ::setenv("PATH", old_path.c_str(), 1);
    std::filesystem::remove_all(dir);
  }
};

TEST_CASE("RemoteHost: an ssh that ends without reading its input fails the step, not ubcctl") {
  const FakeSsh ssh("echo 'ssh: connect to host peer port 22: No route to host' >&2; exit 255");
  const ubc::RemoteHost remote("peer", {});
  // More than a pipe holds: the writer meets a closed pipe (EPIPE, no SIGPIPE).
  const auto run = remote.run({"ubcctl", "migrate-receive", "101", "--check"}, std::string(1 << 20, 'x'));
  CHECK(run.status == 255);
  CHECK(run.output.find("No route to host") != std::string::npos);
  try {
    remote.run_or_throw({"ubcctl", "status", "101"});
    FAIL("no error");
  } catch (const std::runtime_error& error) {
    CHECK(std::string(error.what()).find("on peer: `ubcctl status 101` failed (status 255)") != std::string::npos);
  }
  CHECK_THROWS_AS(remote.run_fed_by({"cat", "/etc/hostname"}, {"ubcctl", "migrate-receive", "101", "--checkpoint"}),
                  std::runtime_error);
}

TEST_CASE("RemoteHost: rsync reaches the host with the same ssh options, each word kept whole") {
  const ubc::RemoteHost remote("root@peer", {"-p", "2222", "-o", "ProxyCommand=nc -X 5 %h %p", "-i", "it's key"});
  const auto argv = remote.rsync_argv("/vz/private/101", "/vz/private/101.partial");
  REQUIRE(argv.size() >= 4);
  CHECK(argv.front() == "rsync");
  const auto e = std::find(argv.begin(), argv.end(), "-e");
  REQUIRE(e + 1 < argv.end());
  CHECK(*(e + 1) == "ssh -o BatchMode=yes -p 2222 -o 'ProxyCommand=nc -X 5 %h %p' -i \"it's key\"");
  // Trailing slashes: the directory's contents into the directory, not a directory inside it.
  CHECK(argv[argv.size() - 2] == "/vz/private/101/");
  CHECK(argv.back() == "root@peer:/vz/private/101.partial/");
  CHECK(std::none_of(argv.begin(), argv.end(), [](const std::string& word) { return word.starts_with("--rsync"); }));
  // What runs there in rsync's place, before the paths.
  const auto through = remote.rsync_argv("/a", "/b", "ubcctl migrate-receive 101 --files -- rsync");
  const auto path =
      std::find(through.begin(), through.end(), "--rsync-path=ubcctl migrate-receive 101 --files -- rsync");
  REQUIRE(path != through.end());
  CHECK(path < std::find(through.begin(), through.end(), "--"));
  const ubc::RemoteHost unquotable("peer", {"-o", "User=\"a'b\""});
  CHECK_THROWS_AS(unquotable.rsync_argv("/a", "/b"), std::invalid_argument);
}

TEST_CASE("RemoteHost::connect: one ssh holds the connection the later commands share, and goes with it") {
  // Stands in for ssh -M: makes the control socket's file and waits, as a logged-in master.
  const FakeSsh ssh(R"(for a; do case "$a" in ControlPath=*) path=${a#ControlPath=} ;; esac; done
[ -n "$path" ] || exit 9
echo $$ > "${path%/*}/pid"; : > "$path"; exec sleep 60)");
  std::filesystem::path control_dir;
  {
    ubc::RemoteHost remote("peer", {"-p", "2222"});
    remote.connect();
    const auto argv = remote.ssh_argv({"true"});
    const auto control = std::find_if(argv.begin(), argv.end(),
                                      [](const std::string& word) { return word.starts_with("ControlPath="); });
    REQUIRE(control != argv.end());
    control_dir = std::filesystem::path(control->substr(std::string("ControlPath=").size())).parent_path();
    CHECK(std::filesystem::exists(control_dir / "pid"));
    const auto rsync = remote.rsync_argv("/a", "/b");
    CHECK(std::any_of(rsync.begin(), rsync.end(),
                      [](const std::string& word) { return word.find(" ControlPath=") != std::string::npos; }));
  }
  CHECK_FALSE(std::filesystem::exists(control_dir));
}

TEST_CASE("RemoteHost::connect: a host that cannot be reached fails with ssh's words") {
  const FakeSsh ssh("echo 'ssh: connect to host peer port 22: Connection refused' >&2; exit 255");
  ubc::RemoteHost remote("peer", {});
  try {
    remote.connect();
    FAIL("no error");
  } catch (const std::runtime_error& error) {
    CHECK(std::string(error.what()) == "ssh peer failed: ssh: connect to host peer port 22: Connection refused");
  }
  // No shared connection: the commands go on their own.
  const auto argv = remote.ssh_argv({"true"});
  CHECK(
      std::none_of(argv.begin(), argv.end(), [](const std::string& word) { return word.starts_with("ControlPath="); }));
}
