#include "ubc/failcnt_baseline.h"

#include <doctest/doctest.h>
#include <unistd.h>

namespace {
ubc::ContainerUsage ct(const char* id, std::uint64_t failcnt) {
  return {id, {{ubc::find_resource("numfile"), {0, 0, 10, 10, failcnt}}}};
}
}  // namespace

TEST_CASE("relative failcnt: the growth since the last relative reading, as vzubc -r") {
  const auto file = std::filesystem::temp_directory_path() / ("ubc-failcnt-" + std::to_string(::getpid()) + ".json");
  std::filesystem::remove(file);
  std::vector<ubc::ContainerUsage> first{ct("101", 7)};
  ubc::make_failcnt_relative(first, file);
  CHECK(first[0].resources[0].counter.failcnt == 7);  // nothing seen before: all of it
  std::vector<ubc::ContainerUsage> second{ct("101", 10), ct("102", 2)};
  ubc::make_failcnt_relative(second, file);
  CHECK(second[0].resources[0].counter.failcnt == 3);
  CHECK(second[1].resources[0].counter.failcnt == 2);
  std::vector<ubc::ContainerUsage> recreated{ct("101", 1)};  // destroyed and created again
  ubc::make_failcnt_relative(recreated, file);
  CHECK(recreated[0].resources[0].counter.failcnt == 1);
  std::filesystem::remove(file);
}
