// What ubc keeps of a CT beside CRIU's images in a checkpoint (ubc.json): its beancounter
// history (each row's maxheld and failcnt, which no restored object can rebuild), the
// limits and CPU settings it ran with (set without --save too), CRIU's name for its console, and whether the checkpoint
// was restored already (a checkpoint is used once: the CT's files went on changing after the restore).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sched/cpu_policy.h"
#include "ubc/report.h"

namespace ubc {

struct CheckpointState {
  struct Row {
    const ResourceInfo* resource;
    ubc_counter counter;  // held as at the dump
  };
  std::string ctid;
  // CRIU's key of the console pty the CT's init had ("tty[RDEV:DEV]"), empty if none.
  std::string console;
  std::string dumped_at;  // ISO 8601, UTC
  std::optional<std::string> restored_at;
  std::vector<Row> rows;
  sched::CpuSettings cpu;  // those it ran with; unset: the config's
};

// The name of the state file in a checkpoint's directory.
inline constexpr const char* kCheckpointStateFile = "ubc.json";

std::string format_checkpoint_state(const CheckpointState& state);
// Throws std::invalid_argument naming what is wrong (not JSON, another format, an unknown
// row, a figure that is not a number).
CheckpointState parse_checkpoint_state(const std::string& text);

// The time now as the state file writes it.
std::string checkpoint_timestamp();

}  // namespace ubc
