#include "ubc/limits.h"

#include <cctype>
#include <charconv>
#include <optional>
#include <stdexcept>

namespace ubc {
namespace {

// K, M, G and T are binary multiples of a byte (either case); P is a page.
std::optional<std::uint64_t> suffix_multiplier(char suffix, std::uint64_t page_size) {
  switch (std::toupper(static_cast<unsigned char>(suffix))) {
    case 'K':
      return 1ULL << 10;
    case 'M':
      return 1ULL << 20;
    case 'G':
      return 1ULL << 30;
    case 'T':
      return 1ULL << 40;
    case 'P':
      return page_size;
    default:
      return std::nullopt;
  }
}

std::uint64_t parse_value(const ResourceInfo& resource, std::string_view text, std::uint64_t page_size) {
  auto fail = [&](const std::string& why) -> std::invalid_argument {
    return std::invalid_argument(std::string(resource.name) + ": '" + std::string(text) + "' " + why);
  };
  if (text == "unlimited") return UBC_UNLIMITED;
  if (text.empty()) throw fail("is empty; expected a number or 'unlimited'");

  std::uint64_t number = 0;
  const char* end = text.data() + text.size();
  auto [rest, error] = std::from_chars(text.data(), end, number);
  if (rest == text.data()) throw fail("is not a number or 'unlimited'");
  if (error == std::errc::result_out_of_range) throw fail("is too large (use 'unlimited')");
  std::string_view suffix(rest, end - rest);
  if (suffix.empty()) {
    if (number > UBC_UNLIMITED) throw fail("is too large (use 'unlimited')");
    return number;
  }
  if (suffix.size() != 1) throw fail("has an unknown suffix '" + std::string(suffix) + "'");
  if (resource.unit == Unit::count)
    throw fail("has a suffix; " + std::string(resource.name) + " is a count and takes plain numbers");

  const auto multiplier = suffix_multiplier(suffix[0], page_size);
  if (!multiplier) throw fail("has an unknown suffix '" + std::string(suffix) + "' (K, M, G, T or P)");
  if (number > UBC_UNLIMITED / *multiplier) throw fail("is too large (use 'unlimited')");
  const std::uint64_t bytes = number * *multiplier;
  // Bytes for a page row are rounded up to whole pages: 1K is one page, never zero.
  return resource.unit == Unit::pages ? (bytes + page_size - 1) / page_size : bytes;
}

}  // namespace

Limits parse_limits(const ResourceInfo& resource, std::string_view text, std::uint64_t page_size) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    const std::uint64_t value = parse_value(resource, text, page_size);
    return {value, value};
  }
  if (text.find(':', colon + 1) != std::string_view::npos)
    throw std::invalid_argument(std::string(resource.name) + ": '" + std::string(text) +
                                "' has more than one ':'; expected BARRIER[:LIMIT]");
  Limits limits{parse_value(resource, text.substr(0, colon), page_size),
                parse_value(resource, text.substr(colon + 1), page_size)};
  if (limits.barrier > limits.limit)
    throw std::invalid_argument(std::string(resource.name) + ": barrier " + std::to_string(limits.barrier) +
                                " is above limit " + std::to_string(limits.limit));
  return limits;
}

std::string format_limits(const Limits& limits) {
  auto value = [](std::uint64_t number) {
    return number == UBC_UNLIMITED ? std::string("unlimited") : std::to_string(number);
  };
  if (limits.barrier == limits.limit) return value(limits.barrier);
  return value(limits.barrier) + ":" + value(limits.limit);
}

}  // namespace ubc
