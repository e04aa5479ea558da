// The CPU scheduler in the kernel (bpf/ubc_sched.bpf.c, a sched_ext scheduler): loading it
// as the host's scheduler for every task, pinning it so that it stays after the loading
// process exits, unloading it, and reading what it reports (its groups, its decisions, and
// why the kernel ejected it if it did).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include "loader/mapped_region.h"
#include "loader/unique_fd.h"
#include "maps/ubc_maps.h"
#include "maps/ubc_sched_maps.h"

namespace ubc {

class Scheduler {
 public:
  // Where the scheduler is pinned: beside the engine's directory, "<engine>-sched".
  static std::filesystem::path pin_dir_for(const std::filesystem::path& engine_pin_dir);
  // Why this kernel cannot run a sched_ext scheduler, or nullopt when it can.
  static std::optional<std::string> unavailable_reason();
  // The sched_ext scheduler the kernel runs now ("ubc", another one's name), if any.
  static std::optional<std::string> running_ops();

  // Loads the scheduler over the engine pinned in `engine_pin_dir` (it shares the engine's
  // CT registry) and makes it the scheduler of every task. `host_weight` (1..10000) is the
  // share of tasks outside all CTs. Nothing stays pinned if any step fails.
  static void load(const std::filesystem::path& engine_pin_dir, std::uint32_t host_weight);
  // Detaches it: every task goes back to the kernel's fair class.
  static void unload(const std::filesystem::path& engine_pin_dir);
  static bool is_pinned(const std::filesystem::path& engine_pin_dir);

  struct ExitInfo {
    std::int64_t kind = 0;  // enum scx_exit_kind
    std::int64_t exit_code = 0;
    std::string reason;
    std::string message;
  };
  // Opens the maps of a scheduler that `load` pinned.
  static Scheduler open(const std::filesystem::path& engine_pin_dir);

  // Why the kernel disabled it (watchdog, error, unregistration), once it has.
  std::optional<ExitInfo> exit_info() const;
  // One record per CT slot, live; slot 0 is the host group.
  std::span<const ubc_sched_ct, UBC_MAX_CTS> groups() const noexcept;
  // Every CPU's counters summed, but the longest wait: the largest of the CPUs'.
  std::array<std::uint64_t, UBC_SCHED_STAT_COUNT> stats() const;
  void set_host_weight(std::uint32_t weight);

 private:
  Scheduler() = default;
  UniqueFd groups_fd_;
  UniqueFd exit_fd_;
  UniqueFd stats_fd_;
  MappedRegion groups_;
};

// What each scheduling counter (enum ubc_sched_stat) means, for people.
std::string_view sched_stat_description(ubc_sched_stat stat) noexcept;

}  // namespace ubc
