// A CT's I/O policy as its config holds it (IOPRIO, IOLIMIT, IOPSLIMIT) and the block
// devices it applies to. sched/ has the mapping onto the cgroup (io_policy.h) and writes it
// there (io_cgroup.h).
#pragma once

#include <filesystem>
#include <vector>

#include "sched/io_policy.h"
#include "ubc/ct_config.h"
#include "ubc/ct_settings.h"

namespace ubc {

// The settings a config holds (IOLIMIT in bytes per second, as vzctl writes it); throws
// ConfigError naming the line of a bad value.
sched::IoSettings io_settings_from(const CtConfig& config);
void store_io_settings(CtConfig& config, const sched::IoSettings& settings);

// The disks a CT's iolimit and iopslimit hold: the one its files (VE_ROOT) are on, and
// each granted block device's. Empty for a CT on tmpfs or overlayfs granted no block device.
std::vector<sched::BlockDevice> ct_block_devices(const CtSettings& ct);

// At start: the config's policy, OpenVZ's defaults for what it leaves out, written on the
// CT's cgroup; the limits of a device the CT no longer has are lifted.
void apply_ct_io_policy(const std::filesystem::path& cgroup, const sched::IoSettings& settings, const CtSettings& ct);

}  // namespace ubc
