// OpenVZ's I/O settings and their cgroup v2 texts (sched/io_policy.h).
#include "sched/io_policy.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace ubc::sched;

TEST_CASE("ioprio: OpenVZ's range; its default is the kernel's default weight, CFQ's ratios kept") {
  CHECK(parse_ioprio("0") == 0);
  CHECK(parse_ioprio("7") == 7);
  CHECK_THROWS_AS(parse_ioprio("8"), std::invalid_argument);
  CHECK_THROWS_AS(parse_ioprio("-1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_ioprio("4x"), std::invalid_argument);
  CHECK_THROWS_AS(parse_ioprio(""), std::invalid_argument);
  CHECK(io_weight(kDefaultIoPrio) == 100);
  CHECK(io_weight(0) * 2 == io_weight(7));  // CFQ's 320 and 640
  for (std::uint32_t prio = 1; prio <= kMaxIoPrio; ++prio) CHECK(io_weight(prio) > io_weight(prio - 1));
  for (std::uint32_t prio = 0; prio <= kMaxIoPrio; ++prio) CHECK(ioprio_of_weight(io_weight(prio)) == prio);
  CHECK_FALSE(ioprio_of_weight(101).has_value());
}

TEST_CASE("iolimit: vzctl's suffixes, megabytes where none is given; bytes as the config keeps them") {
  CHECK(parse_iolimit("10") == 10ULL << 20);
  CHECK(parse_iolimit("10M") == 10ULL << 20);
  CHECK(parse_iolimit("512K") == 512ULL << 10);
  CHECK(parse_iolimit("2G") == 2ULL << 30);
  CHECK(parse_iolimit("4096B") == 4096);
  CHECK(parse_iolimit("0") == 0);
  CHECK(parse_iolimit("10485760", 1) == 10485760);
  CHECK_THROWS_AS(parse_iolimit(""), std::invalid_argument);
  CHECK_THROWS_AS(parse_iolimit("M"), std::invalid_argument);
  CHECK_THROWS_AS(parse_iolimit("10T"), std::invalid_argument);
  CHECK_THROWS_AS(parse_iolimit("1.5M"), std::invalid_argument);
  CHECK_THROWS_AS(parse_iolimit("99999999999999999G"), std::invalid_argument);
  CHECK(parse_iopslimit("300") == 300);
  CHECK_THROWS_AS(parse_iopslimit("3e2"), std::invalid_argument);
}

TEST_CASE("io.max lines: only what is set, 0 is max; the kernel's text read back") {
  const BlockDevice disk{8, 0};
  CHECK(io_max_line(disk, {std::nullopt, 10485760, std::nullopt}) == "8:0 rbps=10485760 wbps=10485760");
  CHECK(io_max_line(disk, {std::nullopt, std::nullopt, 200}) == "8:0 riops=200 wiops=200");
  CHECK(io_max_line(disk, {4, 0, 0}) == "8:0 rbps=max wbps=max riops=max wiops=max");
  CHECK(io_max_cleared({7, 3}) == "7:3 rbps=max wbps=max riops=max wiops=max");

  const auto entries =
      parse_io_max("8:0 rbps=10485760 wbps=max riops=max wiops=100\n254:0 rbps=1 wbps=2 riops=3 wiops=4\n");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].device == disk);
  CHECK(entries[0].rbps == 10485760);
  CHECK(entries[0].wbps == 0);
  CHECK(entries[0].wiops == 100);
  CHECK(entries[1].device == BlockDevice{254, 0});
  CHECK(entries[1].riops == 3);
  CHECK(parse_io_max("").empty());
  CHECK_THROWS_AS(parse_io_max("sda rbps=1\n"), std::invalid_argument);

  CHECK(default_io_weight("default 100\n8:0 200\n") == 100u);
  CHECK(default_io_weight("8:0 200\ndefault 64\n") == 64u);
  CHECK_FALSE(default_io_weight("").has_value());
}
