#include "ubc/resource_table.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {
// Rows of the table in docs/RESOURCES.md: "| name | unit | ... | errno | ... |".
std::map<std::string, std::vector<std::string>> documented_rows() {
  std::ifstream doc(UBC_SOURCE_DIR "/docs/RESOURCES.md");
  REQUIRE(doc);
  std::map<std::string, std::vector<std::string>> rows;
  for (std::string line; std::getline(doc, line);) {
    if (!line.starts_with("| ")) continue;
    std::vector<std::string> cells;
    std::istringstream split(line.substr(1));
    for (std::string cell; std::getline(split, cell, '|');) {
      const auto begin = cell.find_first_not_of(' ');
      const auto end = cell.find_last_not_of(' ');
      cells.push_back(begin == std::string::npos ? "" : cell.substr(begin, end - begin + 1));
    }
    if (!cells.empty()) rows[cells[0]] = cells;
  }
  return rows;
}
}  // namespace

TEST_CASE("every OpenVZ row is in the table, in /proc/user_beancounters order") {
  const std::vector<std::string> openvz_order = {
      "kmemsize",     "lockedpages", "privvmpages",  "shmpages",   "numproc",    "physpages", "vmguarpages",
      "oomguarpages", "numtcpsock",  "numflock",     "numpty",     "numsiginfo", "tcpsndbuf", "tcprcvbuf",
      "othersockbuf", "dgramrcvbuf", "numothersock", "dcachesize", "numfile",    "numiptent", "swappages"};
  std::vector<std::string> names;
  for (const auto& row : ubc::resource_table()) names.emplace_back(row.name);
  CHECK(names == openvz_order);
}

TEST_CASE("lookups by name and by id agree") {
  for (const auto& row : ubc::resource_table()) {
    CHECK(ubc::find_resource(row.name) == &row);
    CHECK(&ubc::resource_info(row.id) == &row);
  }
  CHECK(ubc::find_resource("dummy") == nullptr);
}

TEST_CASE("numfile follows OpenVZ: a count, refused at the barrier with ENFILE, enforced") {
  const auto* numfile = ubc::find_resource("numfile");
  CHECK(numfile->unit == ubc::Unit::count);
  CHECK(numfile->refused_at == ubc::RefusedAt::barrier);
  CHECK(numfile->refusal_errno == ENFILE);
  CHECK(numfile->support == ubc::Support::enforced);
}

TEST_CASE("docs/RESOURCES.md documents every row with the table's unit and support") {
  const auto rows = documented_rows();
  for (const auto& row : ubc::resource_table()) {
    CAPTURE(row.name);
    const auto found = rows.find(std::string(row.name));
    REQUIRE(found != rows.end());
    const auto& cells = found->second;
    REQUIRE(cells.size() >= 4);
    CHECK(cells[1] == ubc::unit_name(row.unit));
    CHECK(cells[2] == ubc::support_name(row.support));
  }
}
