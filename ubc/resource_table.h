// The beancounter resource table: every row of OpenVZ's /proc/user_beancounters, what it
// counts, which threshold refuses it, where ubc gets it and what it cannot do for it: the
// one place these facts live. docs/RESOURCES.md is the same table for people;
// tests/unit/resource_table_test.cpp keeps the two equal, column by column.
#pragma once

#include <span>
#include <string_view>

#include "maps/ubc_maps.h"

namespace ubc {

enum class Unit { count, pages, bytes };

// Which of OpenVZ's thresholds refuses a new allocation: OpenVZ's hard charges stop at the
// barrier, its soft ones at the limit, and accounting-only rows are never refused.
enum class RefusedAt { barrier, limit, never };

enum class Support {
  enforced,      // charged, uncharged and refused by ubc's BPF programs
  kernel_limit,  // held read from the kernel's counters; the limit goes to a memcg file the kernel enforces
  accounted,     // held real, barrier and limit kept for monitoring; nothing refuses (see the notes)
};

std::string_view support_name(Support support) noexcept;

// Where a read (ubc/usage_reader.h) finds a row's held value.
enum class HeldFrom {
  slot,              // the CT's slot, which the BPF programs charge and uncharge
  slot_and_memcg,    // shmpages: the SysV pages BPF charges, plus memcg's other shared memory
  memcg,             // the memcg files of the CT's cgroup
  task_mm,           // the mm counters of the CT's tasks (/proc/PID/status)
  socket_iterators,  // bytes queued in the CT's sockets, summed by the engine's iterators
};

struct ResourceInfo {
  ubc_resource id;
  std::string_view name;
  Unit unit;
  Support support;
  HeldFrom held_from;
  RefusedAt refused_at;
  std::string_view errnos;            // what a refused call fails with, by caller where it differs; "-": none
  std::string_view kernel_source;     // the hooks that charge, refuse and uncharge it, or the kernel counter
  std::string_view memcg_limit_file;  // kernel-limit rows: the memcg file the limit is written to
  // What ubc cannot do for the row on a stock kernel, in one line (empty when nothing): the
  // holes `ubcctl doctor` names so that none is silent. docs/RESOURCES.md has the detail.
  std::string_view known_gap;
};

// In /proc/user_beancounters order (without OpenVZ's dummy rows); swappages, which OpenVZ
// showed only in /proc/bc/resources, comes last.
std::span<const ResourceInfo> resource_table() noexcept;

const ResourceInfo* find_resource(std::string_view name) noexcept;
const ResourceInfo& resource_info(ubc_resource id) noexcept;

std::string_view unit_name(Unit unit) noexcept;

}  // namespace ubc
