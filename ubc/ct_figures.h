// Reads what a CT's /proc view shows of its own resources (ubc/proc_files.h): its cgroup's
// memory, CPU and I/O files, and its init's start.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "loader/kernel_file.h"
#include "ubc/proc_files.h"

namespace ubc {

// One running CT's figures, its files held open from one reading to the next.
class CtFigureReader {
 public:
  // `init`: the CT's init, in the host's numbering.
  CtFigureReader(const std::filesystem::path& cgroup, pid_t init);

  // memory.max, memory.current, memory.swap.* and memory.stat. Throws ubc::SystemError
  // (with the file) when the memory files cannot be read.
  proc_files::MemoryFigures memory();
  // cpu.stat and cpuset.cpus.effective (the host's online CPUs where the cgroup has no
  // cpuset), and how long ago init started.
  proc_files::CpuFigures cpu();
  // io.stat: none where the cgroup has no io controller.
  proc_files::IoFigures io();

 private:
  KernelFile memory_stat_, memory_max_, memory_current_, swap_max_, swap_current_, io_stat_;
  KernelFile cpu_stat_, cpuset_, host_online_, init_stat_;
};

// The threads of `cgroup` and of every cgroup below it, by the state procfs gives them.
struct TaskStates {
  unsigned running = 0;          // R: on a CPU or waiting for one
  unsigned uninterruptible = 0;  // D: waiting for I/O
  unsigned total = 0;
};
TaskStates read_task_states(const std::filesystem::path& cgroup);
// Only how many threads there are (cgroup.threads alone, no /proc read per thread): what
// sysinfo(2) counts, at a cost the CT cannot multiply by calling it.
unsigned count_threads(const std::filesystem::path& cgroup);

}  // namespace ubc
