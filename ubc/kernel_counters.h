// Rows whose held value the kernel already counts for a cgroup (memcg files, the mm counters
// in /proc): ubc reads them instead of charging them again in BPF.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "maps/ubc_maps.h"

namespace ubc {

// One reading of a CT's kernel-kept rows; a row the kernel does not keep stays empty.
struct KernelReading {
  std::array<std::optional<std::uint64_t>, UBC_RESOURCE_COUNT> held{};
  // The kernel's own high-water mark where it keeps one (memory.peak, memory.swap.peak).
  std::array<std::optional<std::uint64_t>, UBC_RESOURCE_COUNT> maxheld{};
  // The kernel's own count of refusals where it keeps one (memory.events "max").
  std::array<std::optional<std::uint64_t>, UBC_RESOURCE_COUNT> failcnt{};
  // memcg's resident shared memory (tmpfs, POSIX shm, memfd, shared anonymous, SysV), pages.
  std::optional<std::uint64_t> shmem_pages;
};

// "key value" lines (memory.stat, memory.events) as a map.
std::map<std::string, std::uint64_t> parse_key_values(const std::string& text);

// The mm counters of /proc/PID/status that OpenVZ's page rows follow, in pages.
struct MmPages {
  std::uint64_t locked = 0;    // VmLck: mlock()ed, VM_LOCKED
  std::uint64_t private_ = 0;  // VmData + VmStk: private writable address space
};
MmPages parse_proc_status(const std::string& text, std::uint64_t page_size);

// Reads the CT's rows from the memcg files of `cgroup` and the /proc status of `tasks` (its
// subtree's processes; one that exited meanwhile is not counted). Throws when the cgroup has
// no memory controller.
KernelReading read_kernel_counters(const std::filesystem::path& cgroup, std::uint64_t page_size,
                                   const std::vector<pid_t>& tasks);

// What a limit looks like in a memcg file: "max" for unlimited, else bytes.
std::string memcg_limit_text(std::uint64_t limit_pages, std::uint64_t page_size);

}  // namespace ubc
