// A CT made from a fresh busybox root filesystem (ubc-mkrootfs, with the test helpers
// ubc-test-workload and ubc-escape inside), created and started through ubcctl as a user
// does, destroyed with its files at scope exit.
#pragma once

#include <filesystem>
#include <string>

#include "workload.h"

namespace ubc::test {

class RunningCt {
 public:
  // `extra_binaries`: host programs copied into the root besides the test helpers
  // (space-separated names, as ubc-mkrootfs takes them); the root is made in `root_parent`.
  RunningCt(std::string id, const std::string& create_flags, const std::string& extra_binaries = "",
            const std::filesystem::path& root_parent = std::filesystem::temp_directory_path());
  ~RunningCt();
  RunningCt(const RunningCt&) = delete;
  RunningCt& operator=(const RunningCt&) = delete;

  // `command` run by the CT's sh; it must not contain single quotes.
  CommandRun exec(const std::string& command) const;
  void set_numfile_limit(unsigned limit) const;
  const std::string& id() const { return id_; }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::string id_;
  std::filesystem::path root_;
};

}  // namespace ubc::test
