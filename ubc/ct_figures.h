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

}  // namespace ubc
