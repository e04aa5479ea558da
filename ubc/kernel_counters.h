// Rows whose held value the kernel already counts for a cgroup (memcg): ubc reads them
// instead of charging them again in BPF.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

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

// The memcg figures of `cgroup` from its memcg files, for a kernel whose engine cannot read
// them in one pass over the host (no memcg kfuncs). Throws when the cgroup has no memory
// controller.
ubc_memcg_figures read_memcg_files(const std::filesystem::path& cgroup, std::uint64_t page_size);

// The rows a CT's memcg figures give: physpages, swappages, kmemsize, dcachesize,
// oomguarpages (anon + unevictable + swap), and the shared memory shmpages adds.
KernelReading memcg_rows(const ubc_memcg_figures& figures, std::uint64_t page_size);

// What a limit looks like in a memcg file: "max" for unlimited, else bytes.
std::string memcg_limit_text(std::uint64_t limit_pages, std::uint64_t page_size);

}  // namespace ubc
