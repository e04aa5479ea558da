// One system call a CT's process made that its seccomp filter handed to a supervisor (user
// notification), received from the filter's listener: what was called, the caller's memory
// to read its arguments from and write its results to, and the one answer it gets. The
// caller waits, blocked in the call, until the answer; a call nobody answers (the object
// destroyed unanswered) fails with ENOSYS, as when no supervisor listens.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "loader/unique_fd.h"

namespace ubc {

class NotifiedCall {
 public:
  // Waits for the next call on `listener`; nullopt when its caller is gone already.
  static std::optional<NotifiedCall> receive(int listener);
  ~NotifiedCall();
  NotifiedCall(NotifiedCall&&) noexcept;
  NotifiedCall& operator=(NotifiedCall&&) = delete;

  const seccomp_data& data() const { return request_->data; }
  // The caller's thread id, in the supervisor's pid namespace.
  pid_t thread() const { return static_cast<pid_t>(request_->pid); }
  // Whether the caller still waits in this call: true means the thread id is still its,
  // not one a new task reused. Check it after opening anything of /proc/TID.
  bool still_waiting() const;

  // The caller's memory at `address`; false when the caller is gone or the range unmapped.
  bool read(std::uint64_t address, void* into, std::size_t bytes);
  // A NUL-terminated string of at most `limit` bytes; nullopt as read() fails, or when too long.
  std::optional<std::string> read_string(std::uint64_t address, std::size_t limit);
  bool write(std::uint64_t address, const void* from, std::size_t bytes);

  // The one answer: the call returns `value`, fails with `error`, or runs in the kernel as if
  // no filter had stopped it (only where the supervisor's decision rests on nothing the
  // caller can change after it: SECCOMP_USER_NOTIF_FLAG_CONTINUE's warning).
  void answer_value(std::int64_t value);
  void answer_error(int error);
  void answer_continue();

 private:
  NotifiedCall(int listener, seccomp_notif* request, seccomp_notif_resp* response);
  bool open_memory();
  void answer(std::int64_t value, int error, std::uint32_t flags);

  int listener_;
  std::unique_ptr<seccomp_notif, void (*)(seccomp_notif*)> request_;
  std::unique_ptr<seccomp_notif_resp, void (*)(seccomp_notif_resp*)> response_;
  UniqueFd memory_;
  bool answered_ = false;
};

}  // namespace ubc
