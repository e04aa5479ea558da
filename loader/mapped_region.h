// Owns a shared mmap() of a BPF map and unmaps it once.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <utility>

namespace ubc {

class MappedRegion {
 public:
  MappedRegion() = default;
  MappedRegion(void* address, std::size_t size) noexcept : address_(address), size_(size) {}
  MappedRegion(MappedRegion&& other) noexcept
      : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedRegion& operator=(MappedRegion&& other) noexcept {
    if (this != &other) {
      reset();
      address_ = std::exchange(other.address_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  ~MappedRegion() { reset(); }

  void* get() const noexcept { return address_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void reset() noexcept {
    if (address_) ::munmap(address_, size_);
    address_ = nullptr;
  }
  void* address_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace ubc
