// The beancounter resource table: every row of OpenVZ's /proc/user_beancounters, what it
// counts, which threshold refuses it and how far ubc implements it. docs/RESOURCES.md is
// the same table for people; tests/unit/resource_table_test.cpp keeps the two honest.
#pragma once

#include <cerrno>
#include <span>
#include <string_view>

#include "maps/ubc_maps.h"

namespace ubc {

enum class Unit { count, pages, bytes };

// Which of OpenVZ's thresholds refuses a new allocation (OPENVZ.md: hard charges stop at
// the barrier, soft ones at the limit; accounting-only rows are never refused).
enum class RefusedAt { barrier, limit, never };

enum class Support {
  enforced,      // charged, uncharged and refused by ubc's BPF programs
  kernel_limit,  // held read from the kernel's counters; the limit goes to a memcg file the kernel enforces
  accounted,     // held real, barrier and limit kept for monitoring; nothing refuses (see the notes)
  planned,       // not yet implemented: shown by no command, settable by none
};

std::string_view support_name(Support support) noexcept;
// Whether `ubcctl show` prints the row and `ubcctl set` takes it.
inline bool is_available(Support support) noexcept {
  return support != Support::planned;
}

struct ResourceInfo {
  ubc_resource id;
  std::string_view name;
  Unit unit;
  RefusedAt refused_at;
  int refusal_errno;  // what the refused program sees; 0 where nothing is refused
  Support support;
  std::string_view kernel_source;  // the hook or counter ubc uses for it
};

// In /proc/user_beancounters order (without OpenVZ's dummy rows); swappages, which OpenVZ
// showed only in /proc/bc/resources, comes last.
std::span<const ResourceInfo> resource_table() noexcept;

const ResourceInfo* find_resource(std::string_view name) noexcept;
const ResourceInfo& resource_info(ubc_resource id) noexcept;

std::string_view unit_name(Unit unit) noexcept;

// What ubc cannot do for the row on a stock kernel, in one line (empty when nothing): the
// holes `ubcctl doctor` names so that none is silent. docs/RESOURCES.md has the detail.
std::string_view known_gap(ubc_resource id) noexcept;

}  // namespace ubc
