#include "sched/cpu_policy.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace ubc::sched;

TEST_CASE("cpuunits: OpenVZ's range, its default maps to the kernel's default weight, ratios kept") {
  CHECK(parse_cpuunits("1000") == 1000);
  CHECK_THROWS_AS(parse_cpuunits("7"), std::invalid_argument);
  CHECK_THROWS_AS(parse_cpuunits("500001"), std::invalid_argument);
  CHECK_THROWS_AS(parse_cpuunits("10x"), std::invalid_argument);
  CHECK(cpu_weight(kDefaultCpuUnits) == 100);
  CHECK(cpu_weight(2000) == 2 * cpu_weight(1000));
  CHECK(cpu_weight(4000) == 4 * cpu_weight(1000));
  CHECK(cpu_weight(250) * 4 == cpu_weight(1000));
  CHECK(cpu_weight(kMinCpuUnits) == 1);      // clamped to cpu.weight's minimum
  CHECK(cpu_weight(kMaxCpuUnits) == 10000);  // and maximum
}

TEST_CASE("cpulimit: percent of one CPU, or with % of the whole host; cpu.max text") {
  CHECK(parse_cpulimit("25", 4) == 25);
  CHECK(parse_cpulimit("150", 4) == 150);
  CHECK(parse_cpulimit("50%", 4) == 200);
  CHECK_THROWS_AS(parse_cpulimit("500", 4), std::invalid_argument);
  CHECK_THROWS_AS(parse_cpulimit("101%", 4), std::invalid_argument);
  CHECK(cpu_max(25, 0) == "25000 100000");
  CHECK(cpu_max(150, 0) == "150000 100000");
  CHECK(cpu_max(0, 0) == "max 100000");
}

TEST_CASE("cpus caps cpulimit at cpus x 100 and picks that many CPUs for cpuset") {
  CHECK(cpu_max(0, 2) == "200000 100000");
  CHECK(cpu_max(300, 2) == "200000 100000");
  CHECK(cpu_max(50, 2) == "50000 100000");
  CHECK(parse_cpus("2", 4) == 2);
  CHECK_THROWS_AS(parse_cpus("5", 4), std::invalid_argument);
  CHECK(cpuset_cpus(2, "0-3\n") == "0,1");
  CHECK(cpuset_cpus(0, "0-3\n") == "0-3");
  CHECK(cpuset_cpus(3, "0,2,4-7") == "0,2,4");
}
