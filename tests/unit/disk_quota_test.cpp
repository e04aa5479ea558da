// vzctl's disk quota values (ubc/disk_quota.h) and their config keys.
#include "ubc/disk_quota.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace ubc;

TEST_CASE("diskspace: SOFT[:HARD] in 1 KiB blocks or with vzctl's suffixes; soft above hard refused") {
  CHECK(parse_diskspace("1000") == SoftHard{1000, 1000});
  CHECK(parse_diskspace("1000:2000") == SoftHard{1000, 2000});
  CHECK(parse_diskspace("10M:11M") == SoftHard{10 * 1024, 11 * 1024});
  CHECK(parse_diskspace("2G") == SoftHard{2 * 1024 * 1024, 2 * 1024 * 1024});
  CHECK(parse_diskspace("1T:1T").hard == 1ULL << 30);
  CHECK(parse_diskspace("512K:0") == SoftHard{512, 0});  // no hard limit
  CHECK_THROWS_AS(parse_diskspace("10M:5M"), std::invalid_argument);
  CHECK_THROWS_AS(parse_diskspace("10P"), std::invalid_argument);
  CHECK_THROWS_AS(parse_diskspace(":10"), std::invalid_argument);
  CHECK_THROWS_AS(parse_diskspace("1.5G"), std::invalid_argument);
  CHECK_THROWS_AS(parse_diskspace("99999999999999999T"), std::invalid_argument);
  CHECK(parse_diskinodes("200000:220000") == SoftHard{200000, 220000});
  CHECK_THROWS_AS(parse_diskinodes("10K"), std::invalid_argument);
  CHECK(parse_quotatime("600") == 600);
  CHECK_THROWS_AS(parse_quotatime("-1"), std::invalid_argument);
}

TEST_CASE("the config keeps blocks, inodes, grace and the CT's project; a bad value names its line") {
  CtConfig config;
  store_disk_quota(config, {SoftHard{1000, 2000}, SoftHard{50, 60}, 120});
  CHECK(config.get("DISKSPACE") == "1000:2000");
  CHECK(config.get("DISKINODES") == "50:60");
  CHECK(config.get("QUOTATIME") == "120");
  const auto read = disk_quota_from(CtConfig::parse(config.text(), "ct.conf"));
  CHECK(read.diskspace == SoftHard{1000, 2000});
  CHECK(read.diskinodes == SoftHard{50, 60});
  CHECK(read.quotatime == 120u);
  CHECK_FALSE(disk_quota_project(config).has_value());
  CHECK(disk_quota_project(CtConfig::parse("QUOTA_PROJECT=\"100001\"\n", "ct.conf")) == 100001u);
  CHECK_THROWS_AS(disk_quota_project(CtConfig::parse("QUOTA_PROJECT=\"0\"\n", "ct.conf")), ConfigError);
  // The config holds plain blocks: a suffix there is an error, not a unit.
  CHECK_THROWS_AS(disk_quota_from(CtConfig::parse("HOSTNAME=\"x\"\nDISKSPACE=\"10G\"\n", "ct.conf")), ConfigError);
}
