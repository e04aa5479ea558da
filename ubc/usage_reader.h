// One read of many CTs' beancounters, in one pass over the host. The rows BPF charges are
// the slots' counters as they stand; the rows the kernel keeps (memcg files, the /proc mm
// counters, socket buffers, resident SysV pages) are read here and stored into the slots.
// The costly host-wide parts run once per read, not once per CT: the socket iterators once
// per network namespace in use, the SysV segment iterator once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "loader/engine.h"
#include "ubc/report.h"

namespace ubc {

struct CtToRead {
  std::string ctid;
  std::filesystem::path cgroup;
  std::uint32_t slot;
};

// Every row of each CT, in the order given. A CT whose cgroup was removed while it was read
// is left out; any other failure throws.
std::vector<ContainerUsage> read_usage(Engine& engine, const std::filesystem::path& pin_dir,
                                       std::span<const CtToRead> cts);

// A row as it stands in a slot, without reading the kernel-kept rows (for rows only BPF
// charges).
ubc_counter charged_counter(const ubc_ct& ct, ubc_resource resource);

}  // namespace ubc
