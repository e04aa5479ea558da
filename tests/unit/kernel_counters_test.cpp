#include "ubc/kernel_counters.h"

#include <doctest/doctest.h>

#include "ubc/resource_table.h"

TEST_CASE("memory.stat style key value lines") {
  const auto values = ubc::parse_key_values("anon 4096\nfile 8192\nkernel 123\n");
  CHECK(values.at("anon") == 4096);
  CHECK(values.at("kernel") == 123);
  CHECK(values.size() == 3);
}

TEST_CASE("page limits become memcg byte limits; unlimited becomes max") {
  CHECK(ubc::memcg_limit_text(256, 4096) == "1048576");
  CHECK(ubc::memcg_limit_text(UBC_UNLIMITED, 4096) == "max");
  CHECK(ubc::resource_info(UBC_PHYSPAGES).memcg_limit_file == "memory.max");
  CHECK(ubc::resource_info(UBC_SWAPPAGES).memcg_limit_file == "memory.swap.max");
  CHECK(ubc::resource_info(UBC_NUMFILE).memcg_limit_file.empty());
}
