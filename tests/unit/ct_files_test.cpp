// What ubc writes into a CT's own files (resolver, passwords), and that a CT's tree cannot
// turn those writes onto the host's files.
#include "ubc/ct_files.h"

#include <crypt.h>
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace {

std::string contents(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("resolv.conf keeps its other lines and takes the new servers and domains") {
  const std::string old =
      "# made by hand\ndomain old.example\nnameserver 10.0.0.1\noptions ndots:2\n  nameserver ::1\n";
  CHECK(ubc::rewritten_resolv_conf(old, {{"192.0.2.53", "2001:db8::53"}, {}}) ==
        "# made by hand\ndomain old.example\noptions ndots:2\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n");
  CHECK(ubc::rewritten_resolv_conf(old, {{}, {"a.example", "b.example"}}) ==
        "# made by hand\nnameserver 10.0.0.1\noptions ndots:2\n  nameserver ::1\nsearch a.example b.example\n");
  CHECK(ubc::rewritten_resolv_conf("", {{"192.0.2.1"}, {"x.example"}}) == "search x.example\nnameserver 192.0.2.1\n");
}

TEST_CASE("inherit takes the host's servers and domains, in the place it is given") {
  const std::string host = "search host.example\nnameserver 10.1.1.1\nnameserver 10.1.1.2\n";
  const auto settings = ubc::resolver_settings({"192.0.2.9", "inherit"}, {"inherit", "ct.example"}, host);
  CHECK(settings.nameservers == std::vector<std::string>{"192.0.2.9", "10.1.1.1", "10.1.1.2"});
  CHECK(settings.search_domains == std::vector<std::string>{"host.example", "ct.example"});
}

TEST_CASE("a new password replaces one user's hash and date, nothing else") {
  const std::string shadow = "root:*:19000:0:99999:7:::\nalice:$y$old:19001:0:99999:7:::\nalicia:!:19002::::::\n";
  CHECK(ubc::shadow_with_password(shadow, "alice", "$y$new", 20000) ==
        "root:*:19000:0:99999:7:::\nalice:$y$new:20000:0:99999:7:::\nalicia:!:19002::::::\n");
  CHECK_THROWS_AS(ubc::shadow_with_password(shadow, "ali", "$y$new", 1), std::invalid_argument);
  CHECK_THROWS_AS(ubc::shadow_with_password(shadow, "root:x", "h", 1), std::invalid_argument);
  CHECK_THROWS_AS(ubc::shadow_with_password(shadow, "root", "a:b", 1), std::invalid_argument);
}

TEST_CASE("a password hash verifies with crypt and is salted afresh each time") {
  const std::string first = ubc::hash_password("s3cret pass"), second = ubc::hash_password("s3cret pass");
  CHECK(first != second);
  crypt_data data{};
  CHECK(std::string(::crypt_r("s3cret pass", first.c_str(), &data)) == first);
  CHECK(std::string(::crypt_r("wrong", first.c_str(), &data)) != first);
}

TEST_CASE("edits stay inside the CT's tree and keep the replaced file's owner") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: chroot and the CT's ids need root");
    return;
  }
  const fs::path base = fs::temp_directory_path() / "ubc-ct-files-test";
  fs::remove_all(base);
  const fs::path root = base / "root", outside = base / "outside";
  fs::create_directories(root / "etc");
  fs::create_directories(outside);
  std::ofstream(outside / "shadow") << "root:host-hash:1::::::\n";
  std::ofstream(outside / "resolv.conf") << "nameserver 10.9.9.9\n";
  const unsigned ct_root = 1234560, shadow_group = ct_root + 42;
  for (const auto& path : {root, root / "etc"}) REQUIRE(::chown(path.c_str(), ct_root, ct_root) == 0);

  SUBCASE("a symlinked /etc/shadow is refused, the host's file untouched") {
    fs::create_symlink("/../../outside/shadow", root / "etc" / "shadow");
    CHECK_THROWS_AS(ubc::edit_ct_files(root, ct_root, [] { ubc::write_password("root", "$y$x"); }), std::runtime_error);
    CHECK(contents(outside / "shadow") == "root:host-hash:1::::::\n");
  }
  SUBCASE("a symlinked /etc/resolv.conf becomes the CT's own file") {
    fs::create_symlink("../../outside/resolv.conf", root / "etc" / "resolv.conf");
    ubc::edit_ct_files(root, ct_root, [] { ubc::write_resolv_conf({{"192.0.2.1"}, {}}); });
    CHECK(contents(outside / "resolv.conf") == "nameserver 10.9.9.9\n");
    CHECK(fs::is_regular_file(fs::symlink_status(root / "etc" / "resolv.conf")));
    CHECK(contents(root / "etc" / "resolv.conf") == "nameserver 192.0.2.1\n");
  }
  SUBCASE("a file of the host's, hard-linked in, is not the CT's to read") {
    REQUIRE(::chmod((outside / "shadow").c_str(), 0640) == 0);
    fs::create_hard_link(outside / "shadow", root / "etc" / "shadow");
    CHECK_THROWS_AS(ubc::edit_ct_files(root, ct_root, [] { ubc::write_password("root", "$y$x"); }), std::runtime_error);
    CHECK(contents(outside / "shadow") == "root:host-hash:1::::::\n");
  }
  SUBCASE("the new /etc/shadow has the old one's owner, group and mode") {
    const fs::path shadow = root / "etc" / "shadow";
    std::ofstream(shadow) << "root:*:1::::::\n";
    REQUIRE(::chown(shadow.c_str(), ct_root, shadow_group) == 0);
    REQUIRE(::chmod(shadow.c_str(), 0640) == 0);
    ubc::edit_ct_files(root, ct_root, [] { ubc::write_password("root", "$y$fresh"); });
    struct stat info {};
    REQUIRE(::stat(shadow.c_str(), &info) == 0);
    CHECK(info.st_uid == ct_root);
    CHECK(info.st_gid == shadow_group);
    CHECK((info.st_mode & 07777) == 0640);
    CHECK(contents(shadow).starts_with("root:$y$fresh:"));
    CHECK_FALSE(fs::exists(root / "etc" / ".shadow.ubc-new"));
  }
  fs::remove_all(base);
}
