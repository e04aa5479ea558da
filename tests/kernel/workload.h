// Test fixtures for kernel tests: a CT that is destroyed at scope exit, and the
// ubc-test-workload process driven inside it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "loader/unique_fd.h"
#include "ubc/host.h"

namespace ubc::test {

// The host the kernel tests work on: their own cgroup root and pin directory, set up by
// main() (UBC_CGROUP_ROOT, UBC_PIN_DIR), so they never touch a real engine's CTs.
Host& host();
// Drops host()'s open engine maps: after `ubcctl unload` and `load`, they are the old
// engine's. The next host() opens the new one.
void reopen_host();

class ScopedCt {
 public:
  explicit ScopedCt(std::string id);
  ~ScopedCt();
  ScopedCt(const ScopedCt&) = delete;
  ScopedCt& operator=(const ScopedCt&) = delete;
  const std::string& id() const { return id_; }
  ubc_counter counter(ubc_resource resource) const;
  void set(ubc_resource resource, std::uint64_t barrier, std::uint64_t limit) const;
  std::uint64_t cgroup_id() const;
  ubc_counter numfile() const { return counter(UBC_NUMFILE); }
  void set_numfile(std::uint64_t barrier, std::uint64_t limit) const { set(UBC_NUMFILE, barrier, limit); }

 private:
  std::string id_;
};

class Workload {
 public:
  // Starts ubc-test-workload inside the CT, or inside `nested_cgroup` below the CT's cgroup;
  // `fd3`, if given, becomes the process's fd 3.
  explicit Workload(const ScopedCt& ct, int fd3 = -1, const std::string& nested_cgroup = "");
  // Starts it in any cgroup: one ubc knows nothing of yet, or another runtime's.
  explicit Workload(const std::filesystem::path& cgroup, int fd3 = -1);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Sends one command and returns the numbers of its "ok ..." reply (fails the test on error).
  std::vector<long> ask(const std::string& command);
  // Closes its input and waits for it to exit; returns its exit status.
  int finish();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  UniqueFd to_child_;
  std::unique_ptr<FILE, int (*)(FILE*)> from_child_{nullptr, &std::fclose};
  std::string read_line();
};

// Polls the CT's numfile held until it equals `expected` or `timeout` passes (file release
// can run after exit, from task work or a workqueue); returns the last value seen.
std::uint64_t wait_for_held(const ScopedCt& ct, ubc_resource resource, std::uint64_t expected,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));
inline std::uint64_t wait_for_numfile_held(const ScopedCt& ct, std::uint64_t expected,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return wait_for_held(ct, UBC_NUMFILE, expected, timeout);
}

// The output (stdout and stderr) and exit status of a command.
struct CommandRun {
  int status;
  std::string output;
};
// Runs this build's ubcctl with `arguments` (a shell command line's words).
CommandRun ubcctl(const std::string& arguments);
// `command` run by /bin/sh; its stdout, and its exit status.
CommandRun shell(const std::string& command);
// Where the tests' running CTs keep their pid files (UBC_RUN_DIR, set by main()).
std::filesystem::path run_dir();

}  // namespace ubc::test
