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
  CHECK(numfile->errnos == "ENFILE");
  CHECK(numfile->support == ubc::Support::enforced);
}

std::string without_backquotes(std::string text) {
  std::erase(text, '`');
  return text;
}

std::string_view refused_at_name(ubc::RefusedAt at) {
  switch (at) {
    case ubc::RefusedAt::barrier:
      return "barrier";
    case ubc::RefusedAt::limit:
      return "limit";
    case ubc::RefusedAt::never:
      return "never";
  }
  return "?";
}

TEST_CASE("docs/RESOURCES.md documents every row as the table has it, column by column") {
  const auto rows = documented_rows();
  for (const auto& row : ubc::resource_table()) {
    CAPTURE(row.name);
    const auto found = rows.find(std::string(row.name));
    REQUIRE(found != rows.end());
    const auto& cells = found->second;
    REQUIRE(cells.size() == 7);  // resource | unit | status | refused at | errno | kernel source | known gap
    CHECK(cells[1] == ubc::unit_name(row.unit));
    CHECK(cells[2] == ubc::support_name(row.support));
    CHECK(cells[3] == refused_at_name(row.refused_at));
    CHECK(cells[4] == row.errnos);
    CHECK(without_backquotes(cells[5]) == row.kernel_source);
    CHECK(cells[6] == (row.known_gap.empty() ? "-" : row.known_gap));
  }
}

TEST_CASE("a row the kernel enforces names its memcg file, and says so in its source") {
  for (const auto& row : ubc::resource_table()) {
    CAPTURE(row.name);
    CHECK((row.support == ubc::Support::kernel_limit) == !row.memcg_limit_file.empty());
    if (!row.memcg_limit_file.empty())
      CHECK(row.kernel_source.find("limit -> " + std::string(row.memcg_limit_file)) != std::string_view::npos);
  }
}

TEST_CASE("a row nothing refuses has no errno; a refused row has one") {
  for (const auto& row : ubc::resource_table()) {
    CAPTURE(row.name);
    if (row.support == ubc::Support::enforced) CHECK(row.errnos.starts_with("E"));
    if (row.refused_at == ubc::RefusedAt::never) CHECK(row.errnos == "-");
  }
}

TEST_CASE("rows BPF enforces are read from their slot; the others from the kernel, never from a slot") {
  for (const auto& row : ubc::resource_table()) {
    CAPTURE(row.name);
    const bool from_slot = row.held_from == ubc::HeldFrom::slot || row.held_from == ubc::HeldFrom::slot_and_memcg;
    CHECK(from_slot == (row.support == ubc::Support::enforced));
  }
}
