#include "loader/notified_call.h"

#include <fcntl.h>
#include <seccomp.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

namespace ubc {

namespace {

void free_request(seccomp_notif* request) {
  ::seccomp_notify_free(request, nullptr);
}
void free_response(seccomp_notif_resp* response) {
  ::seccomp_notify_free(nullptr, response);
}

}  // namespace

NotifiedCall::NotifiedCall(int listener, seccomp_notif* request, seccomp_notif_resp* response)
    : listener_(listener), request_(request, free_request), response_(response, free_response) {}

NotifiedCall::NotifiedCall(NotifiedCall&& other) noexcept
    : listener_(other.listener_),
      request_(std::move(other.request_)),
      response_(std::move(other.response_)),
      memory_(std::move(other.memory_)),
      answered_(std::exchange(other.answered_, true)) {}

NotifiedCall::~NotifiedCall() {
  if (!answered_ && request_) answer(0, ENOSYS, 0);
}

std::optional<NotifiedCall> NotifiedCall::receive(int listener) {
  seccomp_notif* request = nullptr;
  seccomp_notif_resp* response = nullptr;
  if (::seccomp_notify_alloc(&request, &response)) return std::nullopt;
  NotifiedCall call(listener, request, response);
  if (::seccomp_notify_receive(listener, request)) {
    call.answered_ = true;  // the caller is gone already: nothing to answer
    return std::nullopt;
  }
  return call;
}

bool NotifiedCall::still_waiting() const {
  return ::seccomp_notify_id_valid(listener_, request_->id) == 0;
}

bool NotifiedCall::open_memory() {
  if (memory_) return true;
  const std::string path = "/proc/" + std::to_string(thread()) + "/mem";
  memory_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  // Valid after the open: the memory is the caller's, not a task's that reused its id.
  if (memory_ && !still_waiting()) memory_.reset();
  return static_cast<bool>(memory_);
}

bool NotifiedCall::read(std::uint64_t address, void* into, std::size_t bytes) {
  return open_memory() &&
         ::pread(memory_.get(), into, bytes, static_cast<off_t>(address)) == static_cast<ssize_t>(bytes);
}

std::optional<std::string> NotifiedCall::read_string(std::uint64_t address, std::size_t limit) {
  if (!open_memory()) return std::nullopt;
  std::vector<char> text(limit + 1);
  // Short reads stop at the end of a mapping; the string must end before it.
  const ssize_t got = ::pread(memory_.get(), text.data(), text.size(), static_cast<off_t>(address));
  if (got <= 0) return std::nullopt;
  for (ssize_t i = 0; i < got; ++i)
    if (text[static_cast<std::size_t>(i)] == '\0') return std::string(text.data(), static_cast<std::size_t>(i));
  return std::nullopt;
}

bool NotifiedCall::write(std::uint64_t address, const void* from, std::size_t bytes) {
  return open_memory() &&
         ::pwrite(memory_.get(), from, bytes, static_cast<off_t>(address)) == static_cast<ssize_t>(bytes);
}

void NotifiedCall::answer_value(std::int64_t value) {
  answer(value, 0, 0);
}

void NotifiedCall::answer_error(int error) {
  answer(0, error, 0);
}

void NotifiedCall::answer_continue() {
  answer(0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

void NotifiedCall::answer(std::int64_t value, int error, std::uint32_t flags) {
  if (answered_) return;
  answered_ = true;
  response_->id = request_->id;
  response_->val = value;
  response_->error = error ? -error : 0;
  response_->flags = flags;
  ::seccomp_notify_respond(listener_, response_.get());  // fails only when the caller is gone
}

}  // namespace ubc
