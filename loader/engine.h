// The beancounter engine in the kernel: loading, attaching and pinning its BPF programs and
// maps, and opening the pinned maps from any later process (ubcctl, ubcd, tests).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/mapped_region.h"
#include "loader/unique_fd.h"
#include "maps/ubc_maps.h"

namespace ubc {

inline const std::filesystem::path kDefaultPinDir = "/sys/fs/bpf/ubc";

// Whether the kernel has nf_tables (loading the module if it can); numiptent needs it.
bool nf_tables_available();

// What each engine-wide health counter (enum ubc_engine_stat) means, for people.

std::string_view engine_stat_description(ubc_engine_stat stat) noexcept;

// How many kernel objects of each kind the engine can follow host-wide: the capacities of
// its owner maps (maps/ubc_maps.h), divided by owner_map_divisor. Every CT may fill
// 1/UBC_OWNER_MAP_SHARE_DIVISOR of each. Tests divide them to fill a map in seconds.
struct EngineSizing {
  std::uint32_t owner_map_divisor = 1;
};

class Engine {
 public:
  // Loads and attaches the programs and pins them with the maps under `pin_dir`, so they
  // stay attached after this process exits. Nothing stays pinned if any step fails.
  static void load(const std::filesystem::path& pin_dir, const EngineSizing& sizing = {});
  // Unpins everything; the kernel detaches the programs when the last reference goes.
  static void unload(const std::filesystem::path& pin_dir);
  static bool is_loaded(const std::filesystem::path& pin_dir);
  // Loads the programs into the kernel without attaching or pinning anything, to learn
  // whether this kernel accepts them. Returns the reason when it does not.
  static std::optional<std::string> probe_load();

  // Opens the maps of an engine that `load` pinned.
  static Engine open(const std::filesystem::path& pin_dir);
  // Whether these maps are still the ones pinned in `pin_dir` (not an engine since
  // unloaded, with another loaded in its place).
  bool is_pinned_in(const std::filesystem::path& pin_dir) const;

  // Every CT slot, live: counters change under our feet. Index 0 is never assigned.
  std::span<ubc_ct, UBC_MAX_CTS> slots() const noexcept;
  // A free slot made ready for the CT of `cgroup_id`: counters zero, limits unlimited, a new
  // generation. BPF cannot see it until bind_slot. Throws when every slot is taken.
  std::uint32_t claim_slot(std::uint64_t cgroup_id);
  // Frees a slot (unbound first): a new generation, so that uncharges still in flight for
  // its CT miss it.
  void release_slot(std::uint32_t slot);
  // Takes effect on the CT's next charge; lowering below held only refuses new ones.
  void set_slot_limits(std::uint32_t slot, ubc_resource resource, std::uint64_t barrier, std::uint64_t limit);
  std::optional<std::uint32_t> find_slot(std::uint64_t cgroup_id) const;
  void bind_slot(std::uint64_t cgroup_id, std::uint32_t slot);
  void unbind_slot(std::uint64_t cgroup_id);
  struct Binding {
    std::uint64_t cgroup_id;
    std::uint32_t slot;
  };
  // The whole CT index: every cgroup the engine charges to, and its slot.
  std::vector<Binding> bindings() const;
  // The same, with the cgroup each slot itself records (for `ubcctl doctor`: the two must
  // agree), and the slots marked in use that no binding reaches (a registration or destroy
  // stopped half-way).
  struct CheckedBinding {
    std::uint64_t cgroup_id;
    std::uint32_t slot;
    std::uint64_t slot_cgroup_id;
  };
  std::vector<CheckedBinding> checked_bindings() const;
  std::vector<std::uint32_t> unbound_slots_in_use() const;
  std::array<std::uint64_t, UBC_STAT_COUNT> stats() const;

  // Device nodes a CT's tasks may open (bpf/devices.bpf.h).
  struct DeviceRule {
    std::uint32_t type;  // UBC_DEVICE_CHAR or UBC_DEVICE_BLOCK
    std::uint32_t major;
    std::uint32_t minor;   // or UBC_DEVICE_ANY_MINOR
    std::uint32_t access;  // UBC_DEVICE_READ | UBC_DEVICE_WRITE
  };
  // Replaces `slot`'s rules and enforces them for its current owner: any other device
  // node is refused to the CT's tasks.
  void set_device_rules(std::uint32_t slot, const std::vector<DeviceRule>& rules);
  // Stops enforcing them (the CT's tasks get the host's device rules) and removes them.
  void clear_device_rules(std::uint32_t slot);

  // The cgroup that holds a CT's host helpers (its /proc view's server, its console
  // keeper): the CPU scheduler runs its tasks in the CT's group (bpf/ubc_ct_maps.bpf.h).
  // Returns false, changing nothing, for an engine pinned before helper cgroups existed.
  bool set_helper_cgroup(std::uint64_t helper_cgroup_id, std::uint64_t ct_cgroup_id);
  void forget_helper_cgroup(std::uint64_t helper_cgroup_id);

  struct ProgramHealth {
    std::string name;
    std::uint64_t recursion_misses;  // runs the kernel skipped: charges that never happened
  };
  // The attached programs, from the links pinned in `pin_dir`.
  static std::vector<ProgramHealth> program_health(const std::filesystem::path& pin_dir);

  // Runs the pinned iterators of one kind (records: maps/ubc_maps.h): one per non-empty
  // buffer of every socket a CT owns in the caller's network namespace; one per SysV segment
  // a CT owns (in any IPC namespace) with its resident pages; the mm counters and network
  // namespace of every process in a CT.
  enum class IteratedObjects { sockets, sysv_segments, processes };
  static std::vector<ubc_iter_record> iterate(const std::filesystem::path& pin_dir, IteratedObjects objects);
  // Runs the memcg iterator, which stores every CT cgroup's memcg figures into
  // memcg_figures() by slot; a kernel without the memcg kfuncs stores none.
  static void refresh_memcg_figures(const std::filesystem::path& pin_dir);
  // Empty for an engine pinned before the memcg iterator existed.
  std::span<const ubc_memcg_figures> memcg_figures() const noexcept;

 private:
  Engine() = default;
  UniqueFd cts_fd_;
  UniqueFd ct_index_fd_;
  UniqueFd stats_fd_;
  UniqueFd devices_fd_;  // absent in an engine pinned before device rules existed
  UniqueFd device_guard_fd_;
  MappedRegion cts_;
  UniqueFd memcg_fd_;
  MappedRegion memcg_;
  UniqueFd helper_cgroups_fd_;  // absent in an engine pinned before CTs had helper cgroups
  UniqueFd registry_fd_;        // absent in an engine pinned before the hooks cached CT lookups
  MappedRegion registry_;
  // After every change of the CT index or the helper cgroups: the hooks' and the
  // scheduler's cached lookups are made again.
  void registry_changed() noexcept;
};

}  // namespace ubc
