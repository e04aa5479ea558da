// Barrier and limit values as vzctl takes them: `B`, `B:L`, `unlimited`, size suffixes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ubc/resource_table.h"

namespace ubc {

struct Limits {
  std::uint64_t barrier;
  std::uint64_t limit;
  bool operator==(const Limits&) const = default;
};

// Parses `text` for `resource` the way `vzctl set --<resource>` does: one value sets both
// barrier and limit; `unlimited` is LONG_MAX; for byte and page resources a K, M, G or T
// suffix (powers of 1024) gives bytes and P gives pages, converted to the resource's unit;
// count resources take plain numbers only. Throws std::invalid_argument with a message
// that names the resource and what was wrong.
Limits parse_limits(const ResourceInfo& resource, std::string_view text, std::uint64_t page_size);

// The form vzctl saves: "B" when barrier equals limit, else "B:L"; LONG_MAX as "unlimited".
std::string format_limits(const Limits& limits);

}  // namespace ubc
