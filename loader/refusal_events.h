// Reads the engine's ring buffer of refused charges (struct ubc_refusal_event).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "loader/unique_fd.h"
#include "maps/ubc_maps.h"

struct ring_buffer;

namespace ubc {

// Why a charge was refused (enum ubc_refusal_reason), as `ubcctl events` and ubcd print it:
// "threshold" (barrier or limit), "share" (the CT's share of an owner map), "map-full",
// "list-full".
std::string_view refusal_reason_name(std::uint32_t reason) noexcept;

class RefusalEventReader {
 public:
  using Handler = std::function<void(const ubc_refusal_event&)>;

  // Opens the ring buffer pinned by the engine in `pin_dir`. One reader sees each event:
  // two readers at once share the stream between them.
  RefusalEventReader(const std::filesystem::path& pin_dir, Handler handler);
  ~RefusalEventReader();
  RefusalEventReader(const RefusalEventReader&) = delete;
  RefusalEventReader& operator=(const RefusalEventReader&) = delete;

  // Hands every waiting event to the handler, waiting up to `timeout` for the first one.
  // Returns how many were handled.
  int poll(std::chrono::milliseconds timeout);
  // Whether its ring buffer is still the one pinned in `pin_dir` (not a replaced engine's).
  bool is_pinned_in(const std::filesystem::path& pin_dir) const;

 private:
  static int on_sample(void* self, void* data, std::size_t size);
  UniqueFd map_fd_;
  Handler handler_;
  struct RingBufferDeleter {
    void operator()(ring_buffer* ring) const noexcept;
  };
  std::unique_ptr<ring_buffer, RingBufferDeleter> ring_;
};

}  // namespace ubc
