#include "loader/criu_version.h"

#include <charconv>

namespace ubc {

std::string CriuVersion::text() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<CriuVersion> parse_criu_version(std::string_view output) {
  constexpr std::string_view kLabel = "Version: ";
  const auto at = output.find(kLabel);
  if (at == std::string_view::npos) return std::nullopt;
  const char* cursor = output.data() + at + kLabel.size();
  const char* const end = output.data() + output.size();
  int parts[3] = {0, 0, 0};
  for (int index = 0; index < 3; ++index) {
    const auto [next, error] = std::from_chars(cursor, end, parts[index]);
    if (error != std::errc()) {
      if (index < 2) return std::nullopt;  // a major and a minor at least
      break;
    }
    cursor = next;
    if (cursor == end || *cursor != '.') {
      if (index == 0) return std::nullopt;
      break;
    }
    ++cursor;
  }
  return CriuVersion{parts[0], parts[1], parts[2]};
}

}  // namespace ubc
