#include "ubc/ct_config.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

using ubc::ConfigError;
using ubc::CtConfig;

namespace {
const ubc::ResourceInfo& row(const char* name) {
  return *ubc::find_resource(name);
}
}  // namespace

TEST_CASE("a vzctl config's beancounters parse as ubcctl set parses them") {
  const auto config = CtConfig::parse(
      "# vzctl config\nONBOOT=\"yes\"\nNUMFILE=\"100:200\"\nNUMPROC=\"50\"\nSHMPAGES=\"1M\"\n"
      "HOSTNAME=\"ct101.example\"\nKMEMSIZE=\"unlimited\"\n",
      "101.conf");
  const auto limits = config.beancounters(4096);
  CHECK(limits.at(UBC_NUMFILE) == ubc::Limits{100, 200});
  CHECK(limits.at(UBC_NUMPROC) == ubc::Limits{50, 50});
  CHECK(limits.at(UBC_SHMPAGES) == ubc::Limits{256, 256});
  CHECK(limits.at(UBC_KMEMSIZE) == ubc::Limits{UBC_UNLIMITED, UBC_UNLIMITED});
  CHECK(config.get("HOSTNAME") == "ct101.example");
  CHECK(!config.get("IP_ADDRESS"));
}

TEST_CASE("saving changes the values it sets and keeps comments, order and unknown keys") {
  auto config = CtConfig::parse("# keep me\nONBOOT=\"yes\"\nNUMFILE=\"10\"\nSOMETHING_ELSE=\"x y\"\n", "a.conf");
  config.set_beancounter(row("numfile"), {64, 64});
  config.set_beancounter(row("numflock"), {10, UBC_UNLIMITED});
  CHECK(config.text() ==
        "# keep me\nONBOOT=\"yes\"\nNUMFILE=\"64\"\nSOMETHING_ELSE=\"x y\"\nNUMFLOCK=\"10:unlimited\"\n");
  const auto again = CtConfig::parse(config.text(), "a.conf").beancounters(4096);
  CHECK(again.at(UBC_NUMFLOCK) == ubc::Limits{10, UBC_UNLIMITED});
}

TEST_CASE("a bad file is refused with its name, the line and the reason") {
  auto message_of = [](const std::string& text) -> std::string {
    try {
      CtConfig::parse(text, "/etc/ubc/7.conf").beancounters(4096);
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "";
  };
  CHECK(message_of("ONBOOT=\"yes\"\nNUMFILE=\"lots\"\n") ==
        "/etc/ubc/7.conf:2: numfile: 'lots' is not a number or 'unlimited'");
  CHECK(message_of("NUMPROC=\"20:10\"\n") == "/etc/ubc/7.conf:1: numproc: barrier 20 is above limit 10");
  CHECK(message_of("just words\n") == "/etc/ubc/7.conf:1: expected KEY=\"value\", got 'just words'");
  CHECK(message_of("X=\"open\n") == "/etc/ubc/7.conf:1: unterminated quote in the value of X");
}

TEST_CASE("save writes the file atomically and load reads it back; a missing file is empty") {
  const auto dir = std::filesystem::temp_directory_path() / "ubc-config-test";
  std::filesystem::remove_all(dir);
  CHECK(CtConfig::load(dir / "none.conf").text().empty());
  auto config = CtConfig::parse("NUMPTY=\"4\"\n", dir / "x.conf");
  config.save(dir / "x.conf");
  CHECK(CtConfig::load(dir / "x.conf").beancounters(4096).at(UBC_NUMPTY) == ubc::Limits{4, 4});
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("set refuses a key that the file could not hold, and CRLF files read with blank lines") {
  auto config = CtConfig::parse("", "/etc/ubc/7.conf");
  CHECK_THROWS_AS(config.set("A=B", "x"), std::invalid_argument);
  CHECK_THROWS_AS(config.set("", "x"), std::invalid_argument);
  CHECK_THROWS_AS(config.set("NUM FILE", "x"), std::invalid_argument);
  CHECK(config.text().empty());
  const auto crlf = CtConfig::parse("NUMFILE=\"100:200\"\r\n\r\nHOSTNAME=\"ct\"\r\n", "/etc/ubc/7.conf");
  CHECK(crlf.get("HOSTNAME") == "ct");
  CHECK(crlf.beancounters(4096).at(UBC_NUMFILE) == ubc::Limits{100, 200});
}
