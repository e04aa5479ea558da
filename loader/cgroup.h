// cgroup v2 plumbing: where the unified hierarchy is mounted, ids, membership, removal.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ubc::cgroup {

// The cgroup2 mount point from /proc/self/mountinfo (e.g. /sys/fs/cgroup, or
// /sys/fs/cgroup/unified on hybrid hosts); nullopt when there is none.
std::optional<std::filesystem::path> find_v2_mount();

// The id the kernel's BPF helpers report for this cgroup (its kernfs inode number).
std::uint64_t id_of(const std::filesystem::path& cgroup);

bool is_populated(const std::filesystem::path& cgroup);
std::vector<pid_t> member_pids(const std::filesystem::path& cgroup);

// Moves the calling process into `cgroup`. Async-signal-safe enough for a forked child:
// it allocates nothing.
int enter_from_child(const char* cgroup_procs_path) noexcept;

// Kills every process in the cgroup tree (cgroup.kill) and waits until it is empty.
void kill_all(const std::filesystem::path& cgroup, int timeout_ms);

// Removes the cgroup and every empty child cgroup below it.
void remove_tree(const std::filesystem::path& cgroup);

void write_file(const std::filesystem::path& file, const std::string& text);
std::string read_file(const std::filesystem::path& file);

}  // namespace ubc::cgroup
