// A kernel file held open and read whole from its start at every reading.
#include "loader/kernel_file.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "loader/error.h"

namespace fs = std::filesystem;

TEST_CASE("a kernel file is read whole, anew at every reading, through one descriptor") {
  const fs::path file = fs::temp_directory_path() / ("ubc-kernel-file-" + std::to_string(::getpid()));
  std::ofstream(file) << std::string(10000, 'a');
  ubc::KernelFile kernel_file(file);
  CHECK(kernel_file.read() == std::string(10000, 'a'));  // past one buffer
  std::ofstream(file) << "b\n";                          // the same inode, truncated
  CHECK(kernel_file.read_existing() == "b\n");
  fs::remove(file);

  ubc::KernelFile missing(file);
  CHECK_FALSE(missing.read());
  CHECK_THROWS_AS(missing.read_existing(), ubc::SystemError);
}

TEST_CASE("procfs renders a held file anew at offset 0") {
  ubc::KernelFile uptime("/proc/uptime");
  const double first = std::stod(uptime.read_existing());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(std::stod(uptime.read_existing()) > first);
}
