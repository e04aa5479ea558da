#include "loader/criu_version.h"

#include <doctest/doctest.h>

using ubc::CriuVersion;
using ubc::parse_criu_version;

TEST_CASE("criu --version's output gives the version; older than 4.0 is not usable") {
  CHECK(parse_criu_version("Version: 4.2.1\nGitID: v4.2.1\n") == CriuVersion{4, 2, 1});
  CHECK(parse_criu_version("Version: 3.17\n") == CriuVersion{3, 17, 0});
  CHECK(*parse_criu_version("Version: 3.17.1\n") < ubc::kOldestUsableCriu);
  CHECK_FALSE(*parse_criu_version("Version: 4.0\n") < ubc::kOldestUsableCriu);
  CHECK(parse_criu_version("Version: 4.2.1").value().text() == "4.2.1");
  CHECK_FALSE(parse_criu_version(""));
  CHECK_FALSE(parse_criu_version("criu: command not found"));
  CHECK_FALSE(parse_criu_version("Version: 4\n"));
  CHECK_FALSE(parse_criu_version("Version: x.y\n"));
}
