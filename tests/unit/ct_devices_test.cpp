// A CT's device grants as engine rules, with numbers from the host's nodes.
#include "ubc/ct_devices.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {
bool has_rule(const std::vector<ubc::Engine::DeviceRule>& rules, std::uint32_t major, std::uint32_t minor,
              std::uint32_t access) {
  return std::any_of(rules.begin(), rules.end(), [&](const auto& rule) {
    return rule.type == UBC_DEVICE_CHAR && rule.major == major && rule.minor == minor && rule.access == access;
  });
}
}  // namespace

TEST_CASE("every CT may use the standard nodes and its own ptys; grants add or narrow") {
  constexpr std::uint32_t rw = UBC_DEVICE_READ | UBC_DEVICE_WRITE;
  const auto standard = ubc::device_rules({});
  CHECK(has_rule(standard, 1, 3, rw));  // /dev/null
  CHECK(has_rule(standard, 1, 9, rw));  // /dev/urandom
  CHECK(has_rule(standard, 5, 2, rw));  // ptmx
  CHECK(has_rule(standard, 136, UBC_DEVICE_ANY_MINOR, rw));
  CHECK_FALSE(has_rule(standard, 1, 1, rw));  // /dev/mem is nobody's
  // zero:r comes after zero's standard rule, so it wins when the rules are stored in order.
  const auto narrowed = ubc::device_rules({{"zero", false}});
  CHECK(narrowed.back().major == 1);
  CHECK(narrowed.back().minor == 5);
  CHECK(narrowed.back().access == UBC_DEVICE_READ);
}

TEST_CASE("a grant must name a device node that exists") {
  const fs::path dev = fs::temp_directory_path() / "ubc-fake-dev";
  fs::remove_all(dev);
  fs::create_directories(dev);
  for (const auto& node : ubc::ns::standard_device_nodes()) fs::create_symlink("/dev/" + node.name, dev / node.name);
  std::ofstream(dev / "plain") << "not a device\n";
  CHECK_THROWS_WITH(ubc::device_rules({{"plain", true}}, dev), doctest::Contains("is not a device node"));
  CHECK_THROWS_WITH(ubc::device_rules({{"ttyS99", true}}), doctest::Contains("ttyS99"));
  fs::remove_all(dev);
}
