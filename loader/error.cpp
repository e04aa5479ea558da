#include "loader/error.h"

#include <cstring>

namespace ubc {

SystemError::SystemError(const std::string& call, int error)
    : std::runtime_error(call + ": " + std::strerror(error)), error_(error) {}

void throw_system_error(const std::string& call, int error) {
  throw SystemError(call, error);
}

}  // namespace ubc
