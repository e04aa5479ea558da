// ubcd's refusal log: one line a second per CT and resource, the rest counted, names cached.
#include "ubc/refusal_log.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

ubc_refusal_event event(std::uint64_t cgroup_id, std::uint32_t resource) {
  ubc_refusal_event e{};
  e.cgroup_id = cgroup_id;
  e.resource = resource;
  e.tgid = 42;
  e.held = 10;
  e.threshold = 10;
  std::strcpy(e.comm, "hog");
  return e;
}

}  // namespace

TEST_CASE("3000 refusals in 3 s of one CT and resource make a line a second, none lost from the count") {
  std::vector<std::string> lines;
  int lookups = 0;
  ubc::RefusalLog log(
      [&](std::uint64_t) {
        ++lookups;
        return std::optional<std::string>("101");
      },
      [&](const std::string& line) { lines.push_back(line); });
  const auto start = ubc::RefusalLog::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 3000; ++i) log.record(event(7, UBC_NUMFILE), start + std::chrono::milliseconds(i));
  log.flush(start + std::chrono::milliseconds(4000));
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "refused: ct=101 resource=numfile pid=42 comm=hog held=10 threshold=10");
  CHECK(lines[1].find("(and 999 more refusals before this one)") != std::string::npos);
  CHECK(lines[3].find("ct=101 resource=numfile: 999 more refusals in the last") != std::string::npos);
  CHECK(lookups == 1);  // the name is cached
}

TEST_CASE("keys are per CT and resource; an unknown cgroup is looked up again only after a second") {
  std::vector<std::string> lines;
  int lookups = 0;
  ubc::RefusalLog log(
      [&](std::uint64_t id) {
        ++lookups;
        return id == 1 ? std::optional<std::string>("a") : std::nullopt;
      },
      [&](const std::string& line) { lines.push_back(line); });
  const auto t = ubc::RefusalLog::Clock::time_point{} + std::chrono::hours(1);
  log.record(event(1, UBC_NUMFILE), t);
  log.record(event(1, UBC_NUMPROC), t);
  log.record(event(9, UBC_NUMFILE), t);
  log.record(event(9, UBC_NUMFILE), t + std::chrono::milliseconds(10));
  CHECK(lines.size() == 3);
  CHECK(lines[2].find("ct=cgroup:9 ") != std::string::npos);
  CHECK(lookups == 2);  // cgroup 9 asked once, not at every refusal
}
