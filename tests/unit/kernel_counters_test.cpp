#include "ubc/kernel_counters.h"

#include <doctest/doctest.h>

#include "ubc/resource_table.h"

TEST_CASE("memory.stat style key value lines") {
  const auto values = ubc::parse_key_values("anon 4096\nfile 8192\nkernel 123\n");
  CHECK(values.at("anon") == 4096);
  CHECK(values.at("kernel") == 123);
  CHECK(values.size() == 3);
}

TEST_CASE("/proc/PID/status: locked and private pages") {
  const std::string status =
      "Name:\tworkload\nVmPeak:\t  20000 kB\nVmLck:\t    1024 kB\nVmData:\t    4096 kB\n"
      "VmStk:\t     132 kB\nVmExe:\t      64 kB\n";
  const auto pages = ubc::parse_proc_status(status, 4096);
  CHECK(pages.locked == 256);
  CHECK(pages.private_ == 1024 + 33);
}

TEST_CASE("a kernel thread has no mm lines and no pages") {
  const auto pages = ubc::parse_proc_status("Name:\tkworker/0:1\nState:\tI (idle)\n", 4096);
  CHECK(pages.locked == 0);
  CHECK(pages.private_ == 0);
}

TEST_CASE("page limits become memcg byte limits; unlimited becomes max") {
  CHECK(ubc::memcg_limit_text(256, 4096) == "1048576");
  CHECK(ubc::memcg_limit_text(UBC_UNLIMITED, 4096) == "max");
  CHECK(ubc::resource_info(UBC_PHYSPAGES).memcg_limit_file == "memory.max");
  CHECK(ubc::resource_info(UBC_SWAPPAGES).memcg_limit_file == "memory.swap.max");
  CHECK(ubc::resource_info(UBC_NUMFILE).memcg_limit_file.empty());
}
