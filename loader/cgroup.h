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

// The cgroup2 mount's superblock options (mountinfo's last field), e.g. "rw,nsdelegate".
std::string v2_mount_options(const std::filesystem::path& mount_point);
bool has_nsdelegate(const std::filesystem::path& mount_point);
// With nsdelegate, a cgroup namespace is a delegation boundary: a CT can manage the cgroups
// below its own but never write its own cgroup's limits (memory.max, cpu.max, pids.max),
// even from a nested user namespace. Remounts the hierarchy with it, keeping its other
// options, unless it has it already. Returns whether it remounted; throws with the reason
// when it cannot (only the initial namespaces may set it).
bool ensure_nsdelegate(const std::filesystem::path& mount_point);

// The id the kernel's BPF helpers report for this cgroup (its kernfs inode number).
std::uint64_t id_of(const std::filesystem::path& cgroup);

bool is_populated(const std::filesystem::path& cgroup);
std::vector<pid_t> member_pids(const std::filesystem::path& cgroup);

// Moves the calling process into `cgroup`. Async-signal-safe enough for a forked child:
// it allocates nothing.
int enter_from_child(const char* cgroup_procs_path) noexcept;

// Whether the cgroup tree is frozen (cgroup.events' "frozen 1": every task in it stopped).
bool is_frozen(const std::filesystem::path& cgroup);
// Freezes (or thaws) the cgroup tree with cgroup.freeze and waits until the kernel reports
// it done; throws, leaving it as asked, when that takes longer than timeout_ms. A frozen
// tree's tasks run nothing, signals included, until thawed; SIGKILL still ends them.
void set_frozen(const std::filesystem::path& cgroup, bool frozen, int timeout_ms);

// The threads of `cgroup` and of every cgroup below it, by the state procfs gives them.
struct TaskStates {
  unsigned running = 0;          // R: on a CPU or waiting for one
  unsigned uninterruptible = 0;  // D: waiting for I/O (or, in a frozen tree, in vfork())
  unsigned total = 0;
};
TaskStates read_task_states(const std::filesystem::path& cgroup);
// Only how many threads there are (cgroup.threads alone, no /proc read per thread): what
// sysinfo(2) counts, at a cost the CT cannot multiply by calling it.
unsigned count_threads(const std::filesystem::path& cgroup);

// Kills every process in the cgroup tree (cgroup.kill) and waits until it is empty.
void kill_all(const std::filesystem::path& cgroup, int timeout_ms);

// Removes the cgroup and every empty child cgroup below it.
void remove_tree(const std::filesystem::path& cgroup);

// Takes back what a cgroup's delegate made of it: removes every cgroup below it (they must be
// empty) and disables the controllers it handed down, so that it takes processes again.
void reset_subtree(const std::filesystem::path& cgroup);

// Gives the cgroup to `uid`:`gid` as the kernel's delegation model has it: the directory
// (it makes cgroups below) and cgroup.procs, cgroup.threads and cgroup.subtree_control (it
// moves its processes and hands controllers down); every other file, its limits among them,
// stays root's.
void delegate(const std::filesystem::path& cgroup, uid_t uid, gid_t gid);

void write_file(const std::filesystem::path& file, const std::string& text);
std::string read_file(const std::filesystem::path& file);
// The file's text, or none where it cannot be opened or read.
std::optional<std::string> read_if_exists(const std::filesystem::path& file);
// The first line of a kernel file (a cgroup or sysfs knob), empty where it cannot be read:
// for knobs a kernel may lack, where absence is an answer.
std::string first_line(const std::filesystem::path& file);

}  // namespace ubc::cgroup
