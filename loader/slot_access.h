// Slot fields (struct ubc_ct in maps/ubc_maps.h) are shared with BPF programs running on
// other CPUs: user space reads and writes them only through these, atomically.
#pragma once

#include <atomic>

#include "maps/ubc_maps.h"

namespace ubc {

inline __u64 slot_load(const __u64& field) {
  return std::atomic_ref(const_cast<__u64&>(field)).load(std::memory_order_relaxed);
}

inline void slot_store(__u64& field, __u64 value) {
  std::atomic_ref(field).store(value, std::memory_order_release);
}

// Raises a high-water mark: never lowers it, whoever raised it meanwhile.
inline void slot_raise(__u64& field, __u64 candidate) {
  std::atomic_ref<__u64> ref(field);
  __u64 seen = ref.load(std::memory_order_relaxed);
  while (seen < candidate && !ref.compare_exchange_weak(seen, candidate, std::memory_order_relaxed)) {
  }
}

}  // namespace ubc
