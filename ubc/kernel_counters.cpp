#include "ubc/kernel_counters.h"

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

#include "loader/cgroup.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

std::optional<std::uint64_t> read_number(const fs::path& file) {
  auto text = cgroup::read_if_exists(file);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::uint64_t value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> value_of(const std::map<std::string, std::uint64_t>& values, const std::string& key) {
  auto found = values.find(key);
  if (found == values.end()) return std::nullopt;
  return found->second;
}

}  // namespace

std::map<std::string, std::uint64_t> parse_key_values(const std::string& text) {
  std::map<std::string, std::uint64_t> values;
  std::istringstream in(text);
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) values[key] = value;
  return values;
}

ubc_memcg_figures read_memcg_files(const fs::path& cgroup, std::uint64_t page_size) {
  auto stat_text = cgroup::read_if_exists(cgroup / "memory.stat");
  if (!stat_text)
    throw std::runtime_error("cannot read " + (cgroup / "memory.stat").string() +
                             ": the memory controller is not enabled for the CT");
  const auto stat = parse_key_values(*stat_text);
  auto pages_in = [&](const char* file) { return read_number(cgroup / file).value_or(0) / page_size; };
  auto event_in = [&](const char* file) {
    auto events = cgroup::read_if_exists(cgroup / file);
    return events ? value_of(parse_key_values(*events), "max").value_or(0) : 0;
  };
  ubc_memcg_figures figures{};
  figures.memory_pages = pages_in("memory.current");
  figures.memory_peak_pages = pages_in("memory.peak");
  figures.memory_max_events = event_in("memory.events");
  figures.swap_pages = pages_in("memory.swap.current");
  figures.swap_peak_pages = pages_in("memory.swap.peak");
  figures.swap_max_events = event_in("memory.swap.events");
  figures.kernel_bytes = value_of(stat, "kernel").value_or(0);
  figures.slab_reclaimable_bytes = value_of(stat, "slab_reclaimable").value_or(0);
  figures.anon_bytes = value_of(stat, "anon").value_or(0);
  figures.unevictable_bytes = value_of(stat, "unevictable").value_or(0);
  figures.shmem_bytes = value_of(stat, "shmem").value_or(0);
  return figures;
}

KernelReading memcg_rows(const ubc_memcg_figures& figures, std::uint64_t page_size) {
  KernelReading reading;
  reading.held[UBC_PHYSPAGES] = figures.memory_pages;
  reading.maxheld[UBC_PHYSPAGES] = figures.memory_peak_pages;
  reading.failcnt[UBC_PHYSPAGES] = figures.memory_max_events;
  reading.held[UBC_SWAPPAGES] = figures.swap_pages;
  reading.maxheld[UBC_SWAPPAGES] = figures.swap_peak_pages;
  reading.failcnt[UBC_SWAPPAGES] = figures.swap_max_events;
  reading.held[UBC_KMEMSIZE] = figures.kernel_bytes;
  reading.held[UBC_DCACHESIZE] = figures.slab_reclaimable_bytes;
  reading.held[UBC_OOMGUARPAGES] = (figures.anon_bytes + figures.unevictable_bytes) / page_size + figures.swap_pages;
  reading.shmem_pages = figures.shmem_bytes / page_size;
  return reading;
}

std::string memcg_limit_text(std::uint64_t limit_pages, std::uint64_t page_size) {
  if (limit_pages >= UBC_UNLIMITED / page_size) return "max";
  return std::to_string(limit_pages * page_size);
}

}  // namespace ubc
