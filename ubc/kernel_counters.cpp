#include "ubc/kernel_counters.h"

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

namespace ubc {
namespace fs = std::filesystem;

namespace {

// Plain read(2): a full read of many CTs opens thousands of these small files.
std::optional<std::string> read_if_exists(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(got));
  ::close(fd);
  if (got < 0) return std::nullopt;
  return text;
}

std::optional<std::uint64_t> read_number(const fs::path& file) {
  auto text = read_if_exists(file);
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

KernelReading read_memcg_files(const fs::path& cgroup, std::uint64_t page_size) {
  auto stat_text = read_if_exists(cgroup / "memory.stat");
  if (!stat_text)
    throw std::runtime_error("cannot read " + (cgroup / "memory.stat").string() +
                             ": the memory controller is not enabled for the CT");
  const auto stat = parse_key_values(*stat_text);
  KernelReading reading;
  auto pages = [page_size](std::optional<std::uint64_t> bytes) -> std::optional<std::uint64_t> {
    if (!bytes) return std::nullopt;
    return *bytes / page_size;
  };

  reading.held[UBC_KMEMSIZE] = value_of(stat, "kernel");
  reading.shmem_pages = pages(value_of(stat, "shmem"));
  reading.held[UBC_DCACHESIZE] = value_of(stat, "slab_reclaimable");

  reading.held[UBC_PHYSPAGES] = pages(read_number(cgroup / "memory.current"));
  reading.maxheld[UBC_PHYSPAGES] = pages(read_number(cgroup / "memory.peak"));
  if (auto events = read_if_exists(cgroup / "memory.events"))
    reading.failcnt[UBC_PHYSPAGES] = value_of(parse_key_values(*events), "max");

  const auto swap = pages(read_number(cgroup / "memory.swap.current"));
  reading.held[UBC_SWAPPAGES] = swap.value_or(0);
  reading.maxheld[UBC_SWAPPAGES] = pages(read_number(cgroup / "memory.swap.peak"));
  if (auto events = read_if_exists(cgroup / "memory.swap.events"))
    reading.failcnt[UBC_SWAPPAGES] = value_of(parse_key_values(*events), "max");

  const std::uint64_t anon = value_of(stat, "anon").value_or(0);
  const std::uint64_t unevictable = value_of(stat, "unevictable").value_or(0);
  reading.held[UBC_OOMGUARPAGES] = (anon + unevictable) / page_size + swap.value_or(0);

  return reading;
}

std::string memcg_limit_text(std::uint64_t limit_pages, std::uint64_t page_size) {
  if (limit_pages >= UBC_UNLIMITED / page_size) return "max";
  return std::to_string(limit_pages * page_size);
}

}  // namespace ubc
