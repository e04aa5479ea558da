// Errors from system calls, carrying the failing call and errno in the message.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace ubc {

class SystemError : public std::runtime_error {
 public:
  SystemError(const std::string& call, int error);
  int error() const noexcept { return error_; }

 private:
  int error_;
};

// Throws SystemError for `call` with the current errno (or `error` when given).
[[noreturn]] void throw_system_error(const std::string& call, int error = errno);

}  // namespace ubc
