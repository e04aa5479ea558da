// Fuzzes the vzctl config reader, ubc::CtConfig: parse, write back, parse again, read the
// beancounter rows, set a key. A config file is edited by hand and by ubcctl in turn, so
// whatever parse() accepts must survive being written back unchanged.
//
// Input: the config text; optionally a NUL byte and then KEY=VALUE, the set() to try.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "fuzz_support.h"
#include "ubc/ct_config.h"

namespace {

const char* const kFileName = "fuzz.conf";
constexpr std::uint64_t kPageSize = 4096;

[[noreturn]] void fail(const std::string& what) {
  ubc::fuzz::fail("ct_config", what);
}

std::string quoted(const std::optional<std::string>& value) {
  return value ? '"' + *value + '"' : std::string("(unset)");
}

// The keys text() wrote: what precedes '=' on each line that is not blank or a comment.
// Only used to enumerate keys for get(); a wrong guess would read unset on both sides.
std::vector<std::string> keys_in(const std::string& text) {
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string_view::npos && line[first] != '#')
      keys.emplace_back(line.substr(0, std::min(line.find('='), line.size())));
    start = end + 1;
  }
  return keys;
}

void check_same_values(const ubc::CtConfig& expected, const ubc::CtConfig& actual, const char* what) {
  for (const auto& key : keys_in(expected.text()))
    if (expected.get(key) != actual.get(key))
      fail(std::string(what) + ": " + key + " was " + quoted(expected.get(key)) + ", is " + quoted(actual.get(key)));
}

// The beancounter rows, or the refusal's message.
struct Beancounters {
  std::map<ubc_resource, ubc::Limits> rows;
  std::string refusal;
  bool operator==(const Beancounters&) const = default;
};

Beancounters read_beancounters(const ubc::CtConfig& config) {
  try {
    auto rows = config.beancounters(kPageSize);
    for (const auto& [id, limits] : rows)
      if (limits.barrier > limits.limit)
        fail("beancounters() gave a barrier above its limit for " + std::string(ubc::resource_info(id).name));
    return {std::move(rows), {}};
  } catch (const ubc::ConfigError& refusal) {
    return {{}, refusal.what()};
  } catch (const std::invalid_argument& refusal) {
    return {{}, refusal.what()};
  }
}

std::optional<ubc::CtConfig> parse(const std::string& text) {
  try {
    return ubc::CtConfig::parse(text, kFileName);
  } catch (const ubc::ConfigError&) {
    return std::nullopt;  // the documented refusal of a malformed file
  }
}

// What set() promises (its message): a value is refused for control characters, quotes,
// '\', '$' or '`', which the shell that sources vzctl configs would expand.
bool is_refused_value(std::string_view value) {
  for (const unsigned char c : value)
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '$' || c == '`') return true;
  return false;
}

// The keys parse() takes; set() refuses any other.
bool is_config_key(std::string_view key) {
  if (key.empty()) return false;
  for (const unsigned char c : key)
    if (!std::isalnum(c) && c != '_') return false;
  return true;
}

void check_round_trip(const ubc::CtConfig& config) {
  const std::string written = config.text();
  const auto reread = parse(written);
  if (!reread) fail("text() wrote what parse() refuses:\n" + written);
  if (reread->text() != written) fail("text() of the reread config differs:\n" + written + "---\n" + reread->text());
  check_same_values(config, *reread, "after a round trip");
  if (read_beancounters(config) != read_beancounters(*reread)) fail("beancounters() differ after a round trip");
}

void check_set(ubc::CtConfig config, const std::string& key, const std::string& value) {
  const ubc::CtConfig before = config;
  try {
    config.set(key, value);
  } catch (const std::invalid_argument&) {
    if (is_config_key(key) && !is_refused_value(value))
      fail("set() refused a plain value for " + key + ": \"" + value + '"');
    return;
  }
  if (!is_config_key(key)) fail("set() took a key parse() refuses: '" + key + "'");
  if (is_refused_value(value)) fail("set() took a value the shell would expand for " + key + ": \"" + value + '"');
  const std::string written = config.text();
  const auto reread = parse(written);
  if (!reread) fail("after set(" + key + "), text() wrote what parse() refuses:\n" + written);
  if (reread->get(key) != value)
    fail("after set(" + key + ", \"" + value + "\"), the reread config has " + quoted(reread->get(key)));
  for (const auto& other : keys_in(before.text()))
    if (other != key && reread->get(other) != before.get(other)) fail("set(" + key + ") changed " + other);
  read_beancounters(*reread);
}

void fuzz_one(std::string_view input) {
  const auto separator = input.find('\0');
  const std::string text(input.substr(0, separator));
  const auto config = parse(text);
  if (config) check_round_trip(*config);
  if (separator == std::string_view::npos) return;
  const std::string_view request = input.substr(separator + 1);
  const auto equals = std::min(request.find('='), request.size());
  const std::string key(request.substr(0, equals));
  const std::string value(equals < request.size() ? request.substr(equals + 1) : std::string_view());
  check_set(config ? *config : *parse(""), key, value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ubc::fuzz::run_one("ct_config", data, size, fuzz_one);
}
