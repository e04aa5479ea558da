// Each CT's user namespace range: the lowest free one given the configs that exist, old
// USERNS="yes" configs counted at the old shared range, USERNS_IDMAP parsed strictly.
#include "ubc/userns_ranges.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "ubc/ct_settings.h"

namespace fs = std::filesystem;

namespace {

struct ConfigDir {
  fs::path path = fs::temp_directory_path() / "ubc-userns-ranges-test";
  ConfigDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ConfigDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
};

}  // namespace

TEST_CASE("the first CT gets 100000, the next ones the lowest free range of 65536") {
  ConfigDir dir;
  CHECK(ubc::free_user_range(dir.path).host_first == 100000);
  dir.write("101.conf", "USERNS=\"yes\"\nUSERNS_IDMAP=\"100000:65536\"\n");
  dir.write("102.conf", "USERNS=\"yes\"\nUSERNS_IDMAP=\"231072:65536\"\n");
  CHECK(ubc::free_user_range(dir.path).host_first == 165536);
  dir.write("103.conf", "USERNS=\"yes\"\nUSERNS_IDMAP=\"165536:65536\"\n");
  CHECK(ubc::free_user_range(dir.path).host_first == 296608);
  CHECK(ubc::free_user_range(dir.path).count == 65536);
}

TEST_CASE("an old USERNS=yes config without a range holds the shared 100000; others hold none") {
  ConfigDir dir;
  dir.write("101.conf", "USERNS=\"yes\"\n");
  dir.write("102.conf", "USERNS=\"no\"\nUSERNS_IDMAP=\"165536:65536\"\n");
  dir.write("103.conf.destroyed", "USERNS=\"yes\"\nUSERNS_IDMAP=\"165536:65536\"\n");
  CHECK(ubc::free_user_range(dir.path).host_first == 165536);
}

TEST_CASE("a range not on the grid still keeps others off it") {
  ConfigDir dir;
  dir.write("101.conf", "USERNS=\"yes\"\nUSERNS_IDMAP=\"150000:1000\"\n");
  CHECK(ubc::free_user_range(dir.path).host_first == 165536);
}

TEST_CASE("USERNS_IDMAP is HOST_FIRST:COUNT above host id 0 and within 32 bits") {
  CHECK(ubc::parse_user_mapping("165536:65536").host_first == 165536);
  for (const char* bad : {"0:65536", "100000", "100000:0", "x:1", "4294967295:2", "-1:5", "100000:65536:1"})
    CHECK_THROWS_AS(ubc::parse_user_mapping(bad), std::invalid_argument);
}

TEST_CASE("a migrating CT's range is free only where no CT maps any id of it") {
  ConfigDir dir;
  dir.write("101.conf", "USERNS=\"yes\"\nUSERNS_IDMAP=\"165536:65536\"\n");
  dir.write("102.conf", "USERNS=\"no\"\n");
  CHECK(ubc::user_range_free(dir.path, {100000, 65536}));
  CHECK(ubc::user_range_free(dir.path, {231072, 65536}));
  CHECK_FALSE(ubc::user_range_free(dir.path, {165536, 65536}));
  CHECK_FALSE(ubc::user_range_free(dir.path, {200000, 65536}));  // overlaps its top
  CHECK_FALSE(ubc::user_range_free(dir.path, {100001, 65536}));  // overlaps its first id
}
