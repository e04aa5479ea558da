#include "loader/refusal_events.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>

#include "loader/error.h"
#include "loader/libbpf_support.h"

namespace ubc {

std::string_view refusal_reason_name(std::uint32_t reason) noexcept {
  switch (static_cast<ubc_refusal_reason>(reason)) {
    case UBC_REFUSED_THRESHOLD:
      return "threshold";
    case UBC_REFUSED_SHARE:
      return "share";
    case UBC_REFUSED_MAP_FULL:
      return "map-full";
    case UBC_REFUSED_LIST_FULL:
      return "list-full";
  }
  return "unknown";
}

void RefusalEventReader::RingBufferDeleter::operator()(ring_buffer* ring) const noexcept {
  ring_buffer__free(ring);
}

RefusalEventReader::RefusalEventReader(const std::filesystem::path& pin_dir, Handler handler)
    : handler_(std::move(handler)) {
  const auto path = pin_dir / UBC_PIN_EVENTS;
  map_fd_.reset(bpf_obj_get(path.c_str()));
  if (!map_fd_) throw_system_error("bpf_obj_get(" + path.string() + ")");
  ring_.reset(ring_buffer__new(map_fd_.get(), &RefusalEventReader::on_sample, this, nullptr));
  if (!ring_) throw_system_error("ring_buffer__new(" + path.string() + ")");
}

RefusalEventReader::~RefusalEventReader() = default;

bool RefusalEventReader::is_pinned_in(const std::filesystem::path& pin_dir) const {
  return is_pinned_at(map_fd_.get(), pin_dir / UBC_PIN_EVENTS);
}

int RefusalEventReader::on_sample(void* self, void* data, std::size_t size) {
  ubc_refusal_event event{};
  std::memcpy(&event, data, std::min(size, sizeof event));
  static_cast<RefusalEventReader*>(self)->handler_(event);
  return 0;
}

int RefusalEventReader::poll(std::chrono::milliseconds timeout) {
  const int handled = ring_buffer__poll(ring_.get(), static_cast<int>(timeout.count()));
  if (handled < 0 && handled != -EINTR) throw_system_error("ring_buffer__poll", -handled);
  return handled < 0 ? 0 : handled;
}

}  // namespace ubc
