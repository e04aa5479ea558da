// What every loader of a BPF object needs: libbpf's messages kept for error reports, and
// pins that are undone when a load fails half-way.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

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
