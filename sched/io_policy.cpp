#include "sched/io_policy.h"

#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace ubc::sched {

namespace {

// OpenVZ's CFQ weights for ioprio 0..7 (../shared/docs/OPENVZ.md).
constexpr std::array<std::uint32_t, kMaxIoPrio + 1> kCfqWeights{320, 365, 410, 460, 500, 550, 600, 640};
constexpr std::uint32_t kCfqToCgroupWeight = 5;

std::uint64_t parse_whole(const std::string& text, const std::string& what) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(what + ": '" + text + "' is not a whole number");
  return value;
}

std::string limit_text(std::uint64_t value) {
  return value == 0 ? "max" : std::to_string(value);
}

std::uint64_t limit_value(const std::string& text) {
  return text == "max" ? 0 : parse_whole(text, "io.max");
}

std::optional<BlockDevice> parse_device(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  try {
    return BlockDevice{static_cast<unsigned>(parse_whole(text.substr(0, colon), "device")),
                       static_cast<unsigned>(parse_whole(text.substr(colon + 1), "device"))};
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

}  // namespace

std::uint32_t parse_ioprio(const std::string& text) {
  const std::uint64_t prio = parse_whole(text, "--ioprio");
  if (prio > kMaxIoPrio)
    throw std::invalid_argument("--ioprio " + text + " is outside OpenVZ's range 0.." + std::to_string(kMaxIoPrio));
  return static_cast<std::uint32_t>(prio);
}

std::uint64_t parse_iolimit(const std::string& text, std::uint64_t bare_unit) {
  if (text.empty()) throw std::invalid_argument("--iolimit: empty value");
  std::uint64_t unit = bare_unit;
  std::string digits = text;
  const char suffix = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (const auto shift = std::string_view("BKMG").find(suffix); shift != std::string_view::npos) {
    unit = 1ULL << (10 * shift);
    digits.pop_back();
  }
  const std::uint64_t count = parse_whole(digits, "--iolimit");
  if (count > std::numeric_limits<std::uint64_t>::max() / unit)
    throw std::invalid_argument("--iolimit " + text + " is too large");
  return count * unit;
}

std::uint64_t parse_iopslimit(const std::string& text) {
  return parse_whole(text, "--iopslimit");
}

std::uint32_t io_weight(std::uint32_t ioprio) {
  if (ioprio > kMaxIoPrio) throw std::invalid_argument("ioprio " + std::to_string(ioprio) + " is above 7");
  return kCfqWeights[ioprio] / kCfqToCgroupWeight;
}

std::optional<std::uint32_t> ioprio_of_weight(std::uint32_t weight) {
  for (std::uint32_t prio = 0; prio <= kMaxIoPrio; ++prio)
    if (io_weight(prio) == weight) return prio;
  return std::nullopt;
}

std::string io_max_line(const BlockDevice& device, const IoSettings& settings) {
  std::string line = device.text();
  if (settings.iolimit) line += " rbps=" + limit_text(*settings.iolimit) + " wbps=" + limit_text(*settings.iolimit);
  if (settings.iopslimit)
    line += " riops=" + limit_text(*settings.iopslimit) + " wiops=" + limit_text(*settings.iopslimit);
  return line;
}

std::string io_max_cleared(const BlockDevice& device) {
  return io_max_line(device, IoSettings{std::nullopt, 0, 0});
}

std::vector<IoMaxEntry> parse_io_max(const std::string& text) {
  std::vector<IoMaxEntry> entries;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string word;
    if (!(words >> word)) continue;
    const auto device = parse_device(word);
    if (!device) throw std::invalid_argument("io.max: bad line '" + line + "'");
    IoMaxEntry entry{*device};
    while (words >> word) {
      const auto equals = word.find('=');
      if (equals == std::string::npos) throw std::invalid_argument("io.max: bad field '" + word + "'");
      const std::string key = word.substr(0, equals);
      const std::uint64_t value = limit_value(word.substr(equals + 1));
      if (key == "rbps")
        entry.rbps = value;
      else if (key == "wbps")
        entry.wbps = value;
      else if (key == "riops")
        entry.riops = value;
      else if (key == "wiops")
        entry.wiops = value;
    }
    entries.push_back(entry);
  }
  return entries;
}

std::optional<std::uint32_t> default_io_weight(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string key, value;
    if (words >> key >> value && key == "default") {
      try {
        return static_cast<std::uint32_t>(parse_whole(value, "io weight"));
      } catch (const std::invalid_argument&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

}  // namespace ubc::sched
