// A kernel file (procfs, sysfs, cgroupfs) held open and read whole from its start at every
// reading: the kernel renders such a file anew at offset 0, and the held descriptor saves
// the open and close a reading would cost where one is made at every request (a CT's /proc
// view renders several at every open of its files).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "loader/unique_fd.h"

namespace ubc {

class KernelFile {
 public:
  explicit KernelFile(std::filesystem::path path) : path_(std::move(path)) {}

  // The file's text now; none where it does not exist (a knob this kernel lacks). Throws
  // ubc::SystemError for any other failure, with the path.
  std::optional<std::string> read();
  // The text, or a SystemError where the file does not exist either.
  std::string read_existing();
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
};

}  // namespace ubc
