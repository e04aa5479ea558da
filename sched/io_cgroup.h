// The I/O policy written where the kernel enforces it: a CT's cgroup's io.bfq.weight and
// io.weight (its share of a busy device) and io.max (its throttles), and which of the
// kernel's mechanisms actually enforces a weight on each device.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sched/io_policy.h"

namespace ubc::sched {

// The whole disk a partition belongs to (io.max and the weights take whole disks only);
// a whole disk is itself. nullopt when the kernel has no such block device.
std::optional<BlockDevice> whole_disk(const BlockDevice& device);
// The disk the filesystem holding `path` lives on; nullopt for filesystems on no block
// device (tmpfs, overlayfs, btrfs's anonymous devices, NFS).
std::optional<BlockDevice> disk_holding(const std::filesystem::path& path);
// The disk a block device node (/dev/sdb1) names; nullopt when it is no block node.
std::optional<BlockDevice> disk_of_node(const std::filesystem::path& node);

// Writes what `settings` sets: the weight of its ioprio into io.bfq.weight and io.weight
// (whichever the kernel has), its limits into io.max for each of `devices`. Throws when the
// io controller is not enabled for `cgroup` and something is to be set.
void apply_io_settings(const std::filesystem::path& cgroup, const IoSettings& settings,
                       const std::vector<BlockDevice>& devices);
// Lifts the io.max limits of every device not in `devices` (a device the CT no longer has).
void clear_io_limits_except(const std::filesystem::path& cgroup, const std::vector<BlockDevice>& devices);
// What the cgroup holds now: the ioprio of its default weight, and the limits io.max has
// for the first of `devices` (0: none).
IoSettings read_io_settings(const std::filesystem::path& cgroup, const std::vector<BlockDevice>& devices);

// How a device shares its time between cgroups: its name, its scheduler, and which weight
// file the kernel enforces on it (empty: none; ioprio then orders nothing on it).
struct DeviceIoPolicy {
  BlockDevice device;
  std::string name;         // "sda", "loop0"
  std::string scheduler;    // the one in use: "bfq", "mq-deadline", "none"
  std::string weight_file;  // "io.bfq.weight", "io.weight" (iocost on) or ""
};
DeviceIoPolicy io_policy_of(const BlockDevice& device);

}  // namespace ubc::sched
