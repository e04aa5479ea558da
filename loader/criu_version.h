// Which CRIU ubc can drive: its version, from `criu --version`, against the oldest that
// dumps and restores on current kernels.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace ubc {

struct CriuVersion {
  int major = 0, minor = 0, patch = 0;
  auto operator<=>(const CriuVersion&) const = default;
  std::string text() const;
};

// Debian 12's 3.17 fails on the 7.x kernels ubc is tested on; 4.x (Debian sid's 4.2) works.
inline constexpr CriuVersion kOldestUsableCriu{4, 0, 0};

// The version in `criu --version`'s output ("Version: 4.2.1", "Version: 3.17"), if any.
std::optional<CriuVersion> parse_criu_version(std::string_view output);

}  // namespace ubc
