// What every loader of a BPF object needs: libbpf's messages kept for error reports, and
// pins that are undone when a load fails half-way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "loader/mapped_region.h"
#include "loader/unique_fd.h"

namespace ubc {

// Owns a libbpf object (a skeleton, a bpf_link) and frees it with `Destroy`.
template <auto Destroy>
struct LibbpfDeleter {
  template <class T>
  void operator()(T* object) const noexcept {
    Destroy(object);
  }
};
template <class T, auto Destroy>
using LibbpfPtr = std::unique_ptr<T, LibbpfDeleter<Destroy>>;

// Routes libbpf's warnings (the verifier log among them) into a buffer that
// throw_libbpf() appends to its message, and empties that buffer.
void capture_libbpf_messages();

// Throws std::runtime_error "what: strerror(error)", followed by what libbpf said.
[[noreturn]] void throw_libbpf(const std::string& what, int error);

// Opens a pinned BPF object (map, link, program).
UniqueFd open_pinned(const std::filesystem::path& path);

// Whether `fd` is the very map (or program, link) pinned at `path` now: false once it was
// unpinned, or another object was pinned there since.
bool is_pinned_at(int fd, const std::filesystem::path& path);

// Refuses a pinned map whose value size or entry count is not this build's (a map pinned by
// another version of ubc would be misread); `remedy` says how to reload it.
void check_pinned_layout(int fd, const std::filesystem::path& path, std::uint32_t value_size, std::uint32_t max_entries,
                         const std::string& remedy);

// Maps a whole BPF_F_MMAPABLE array map shared and writable; `name` is for the error.
MappedRegion map_array(int fd, std::size_t value_size, std::size_t entries, const std::string& name);

// Unpins, on destruction, whatever it pinned unless told the whole load succeeded.
class PinGuard {
 public:
  PinGuard() = default;
  PinGuard(const PinGuard&) = delete;
  PinGuard& operator=(const PinGuard&) = delete;
  ~PinGuard();
  void pinned(std::filesystem::path path) { paths_.push_back(std::move(path)); }
  void commit() noexcept { paths_.clear(); }

 private:
  std::vector<std::filesystem::path> paths_;
};

}  // namespace ubc
