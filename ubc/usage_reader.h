// One read of many CTs' beancounters, in one pass over the host. The rows BPF charges are
// the slots' counters as they stand; the rows the kernel keeps (memcg figures, the mm
// counters of processes, socket buffers, resident SysV pages) come from the engine's
// iterators (bpf/kernel_rows.bpf.h, bpf/sockbufs.bpf.h) and are stored into the slots. Each
// iterator runs once per read, whatever the number of CTs: the process, cgroup and SysV
// segment iterators once, the socket iterators once per network namespace the CTs use. No
// file is opened per CT (but on a kernel without the memcg kfuncs, its memcg files).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "loader/engine.h"
#include "ubc/kernel_counters.h"
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

// The memcg figures of the CT in `slot` as the engine's memcg iterator reads them now; none
// on a kernel without the memcg kfuncs (read_usage then reads the memcg files).
std::optional<ubc_memcg_figures> iterated_memcg_figures(const Engine& engine, const std::filesystem::path& pin_dir,
                                                        std::uint32_t slot);

// A row as it stands in a slot, without reading the kernel-kept rows (for rows only BPF
// charges).
ubc_counter charged_counter(const ubc_ct& ct, ubc_resource resource);

}  // namespace ubc
