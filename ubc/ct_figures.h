// Reads what a CT's /proc view shows of its own resources (ubc/proc_files.h): its cgroup's
// memory and CPU files, and its init's start.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "ubc/proc_files.h"

namespace ubc {

// memory.max, memory.current, memory.swap.* and memory.stat of `cgroup`. Throws
// ubc::SystemError (with the file) when the memory files cannot be read.
proc_files::MemoryFigures read_memory_figures(const std::filesystem::path& cgroup);
// cpu.stat and cpuset.cpus.effective of `cgroup` (the host's online CPUs where it has no
// cpuset), and how long ago `init` (the CT's init, in the host's numbering) started.
proc_files::CpuFigures read_cpu_figures(const std::filesystem::path& cgroup, pid_t init);

// The threads of `cgroup` and of every cgroup below it, by the state procfs gives them.
struct TaskStates {
  unsigned running = 0;          // R: on a CPU or waiting for one
  unsigned uninterruptible = 0;  // D: waiting for I/O
  unsigned total = 0;
};
TaskStates read_task_states(const std::filesystem::path& cgroup);

}  // namespace ubc
