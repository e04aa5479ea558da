#include "ubc/report.h"

#include <doctest/doctest.h>

#include <sstream>

namespace {
std::vector<ubc::ContainerUsage> two_cts() {
  const ubc::ResourceInfo* numfile = ubc::find_resource("numfile");
  const ubc::ResourceInfo* numproc = ubc::find_resource("numproc");
  return {
      {"101", {{numproc, {1, 2, 10, 20, 0}}, {numfile, {12, 64, 64, 64, 3}}}},
      {"web", {{numfile, {0, 0, UBC_UNLIMITED, UBC_UNLIMITED, 0}}}},
  };
}
}  // namespace

TEST_CASE("the text is /proc/user_beancounters, byte for byte") {
  const auto text = ubc::format_user_beancounters(two_cts());
  const std::string expected =
      "Version: 2.5\n"
      "       uid  resource                     held              maxheld              barrier                limit    "
      "          failcnt\n"
      "       101: numproc                         1                    2                   10                   20    "
      "                0\n"
      "            numfile                        12                   64                   64                   64    "
      "                3\n"
      "            dummy                           0                    0                    0                    0    "
      "                0\n"
      "            dummy                           0                    0                    0                    0    "
      "                0\n"
      "            dummy                           0                    0                    0                    0    "
      "                0\n"
      "       web: numfile                         0                    0  9223372036854775807  9223372036854775807    "
      "                0\n"
      "            dummy                           0                    0                    0                    0    "
      "                0\n"
      "            dummy                           0                    0                    0                    0    "
      "                0\n"
      "            dummy                           0                    0                    0                    0    "
      "                0\n";
  CHECK(text == expected);
}

TEST_CASE("each CT's first row splits into 7 fields and the others into 6, as vzubc expects") {
  std::istringstream lines(ubc::format_user_beancounters(two_cts()));
  std::string line;
  std::getline(lines, line);  // Version
  std::getline(lines, line);  // header
  std::vector<int> field_counts;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    int n = 0;
    for (std::string field; fields >> field;) ++n;
    field_counts.push_back(n);
    CHECK(line[0] == ' ');
  }
  CHECK(field_counts == std::vector<int>{7, 6, 6, 6, 6, 7, 6, 6, 6});
}

TEST_CASE("an empty host prints just the header") {
  CHECK(ubc::format_user_beancounters({}).starts_with("Version: 2.5\n       uid  resource"));
}

TEST_CASE("JSON groups each beancounter as a sub-object per CT") {
  const auto json = ubc::report_json(two_cts());
  CHECK(json["version"] == "2.5");
  CHECK(json["containers"].size() == 2);
  CHECK(json["containers"][0]["ctid"] == "101");
  CHECK(json["containers"][0]["resources"]["numfile"]["failcnt"] == 3);
  CHECK(json["containers"][0]["resources"]["numproc"]["limit"] == 20);
  CHECK(json["containers"][1]["resources"]["numfile"]["barrier"] == UBC_UNLIMITED);
}

TEST_CASE("a CT with every row prints OpenVZ's 24 rows in OpenVZ's order, swappages only in JSON") {
  ubc::ContainerUsage all{"101", {}};
  for (const auto& row : ubc::resource_table()) all.resources.push_back({&row, {}});
  std::istringstream lines(ubc::format_user_beancounters(std::vector{all}));
  std::string line;
  std::getline(lines, line);
  std::getline(lines, line);
  std::vector<std::string> names;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    if (name.ends_with(':')) fields >> name;
    names.push_back(name);
  }
  const std::vector<std::string> openvz{
      "kmemsize",     "lockedpages",  "privvmpages", "shmpages", "dummy",      "numproc",   "physpages", "vmguarpages",
      "oomguarpages", "numtcpsock",   "numflock",    "numpty",   "numsiginfo", "tcpsndbuf", "tcprcvbuf", "othersockbuf",
      "dgramrcvbuf",  "numothersock", "dcachesize",  "numfile",  "dummy",      "dummy",     "dummy",     "numiptent"};
  CHECK(names == openvz);
  CHECK(ubc::report_json(std::vector{all})["containers"][0]["resources"].contains("swappages"));
}
