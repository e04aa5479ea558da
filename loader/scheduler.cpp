#include "loader/scheduler.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <vector>

#include "loader/error.h"
#include "loader/libbpf_support.h"
#include "ubc_sched.skel.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

using Skeleton = LibbpfPtr<ubc_sched_bpf, &ubc_sched_bpf__destroy>;
using Link = LibbpfPtr<bpf_link, &bpf_link__destroy>;

std::string first_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The scheduler finds a task's CT through the engine's registry: it uses the engine's own
// maps, so a CT registered by `ubcctl create` is scheduled as one at once. An engine pinned
// before CTs had helper cgroups, or before the registry had an epoch, lacks that map: the
// scheduler keeps an empty one of its own (and, without the epoch, caches no host task).
void reuse_engine_maps(ubc_sched_bpf& skeleton, const fs::path& engine_pin_dir, std::vector<UniqueFd>& keep) {
  const std::pair<bpf_map*, const char*> shared[] = {{skeleton.maps.ubc_cts, UBC_PIN_CTS},
                                                     {skeleton.maps.ubc_ct_index, UBC_PIN_CT_INDEX},
                                                     {skeleton.maps.ubc_helper_cgroups, UBC_PIN_HELPER_CGROUPS},
                                                     {skeleton.maps.ubc_registry, UBC_PIN_REGISTRY}};
  skeleton.rodata->registry_epoch_shared = fs::exists(engine_pin_dir / UBC_PIN_REGISTRY);
  for (const auto& [map, name] : shared) {
    const bool optional = map == skeleton.maps.ubc_helper_cgroups || map == skeleton.maps.ubc_registry;
    if (optional && !fs::exists(engine_pin_dir / name)) continue;
    UniqueFd fd = open_pinned(engine_pin_dir / name);
    if (int err = bpf_map__reuse_fd(map, fd.get()))
      throw_libbpf("sharing the engine's map " + std::string(name) + " with the scheduler", -err);
    keep.push_back(std::move(fd));
  }
}

}  // namespace

fs::path Scheduler::pin_dir_for(const fs::path& engine_pin_dir) {
  fs::path dir = engine_pin_dir;
  if (!dir.has_filename()) dir = dir.parent_path();
  return dir.parent_path() / (dir.filename().string() + "-sched");
}

std::optional<std::string> Scheduler::unavailable_reason() {
  if (!fs::exists("/sys/kernel/sched_ext/state"))
    return "this kernel has no sched_ext (CONFIG_SCHED_CLASS_EXT, Linux 6.12+)";
  return std::nullopt;
}

std::optional<std::string> Scheduler::running_ops() {
  if (first_line("/sys/kernel/sched_ext/state") != "enabled") return std::nullopt;
  return first_line("/sys/kernel/sched_ext/root/ops");
}

bool Scheduler::is_pinned(const fs::path& engine_pin_dir) {
  return fs::exists(pin_dir_for(engine_pin_dir) / UBC_SCHED_PIN_LINK);
}

void Scheduler::load(const fs::path& engine_pin_dir, std::uint32_t host_weight) {
  if (auto reason = unavailable_reason()) throw std::runtime_error("cannot load the CPU scheduler: " + *reason);
  const fs::path pin_dir = pin_dir_for(engine_pin_dir);
  if (is_pinned(engine_pin_dir))
    throw std::runtime_error("the CPU scheduler is already loaded (pinned in " + pin_dir.string() + ")");
  if (auto other = running_ops())
    throw std::runtime_error("another sched_ext scheduler runs (" + *other +
                             "); the kernel runs one at a time, unload it first");
  if (host_weight < 1 || host_weight > UBC_SCHED_MAX_WEIGHT)
    throw std::invalid_argument("host weight " + std::to_string(host_weight) + " is outside 1..10000");

  capture_libbpf_messages();
  Skeleton skeleton(ubc_sched_bpf__open());
  if (!skeleton) throw_libbpf("opening the CPU scheduler (ubc_sched_bpf__open)", errno);
  std::vector<UniqueFd> engine_maps;
  reuse_engine_maps(*skeleton, engine_pin_dir, engine_maps);
  if (int err = ubc_sched_bpf__load(skeleton.get())) throw_libbpf("loading the CPU scheduler into the kernel", -err);

  ubc_sched_ct host{};
  host.weight = host_weight;
  const std::uint32_t host_slot = UBC_SCHED_HOST_SLOT;
  if (bpf_map_update_elem(bpf_map__fd(skeleton->maps.ubc_sched_cts), &host_slot, &host, BPF_ANY))
    throw_system_error("bpf_map_update_elem(" UBC_SCHED_PIN_CTS ", host group)");

  std::error_code ec;
  fs::create_directories(pin_dir, ec);
  if (ec) throw std::runtime_error("creating " + pin_dir.string() + ": " + ec.message());
  PinGuard guard;
  // unthrottle_timers too: the kernel cancels a map's BPF timers once no user space
  // reference is left, and cpulimit's wake-up at the next period is one of them.
  for (bpf_map* map : {skeleton->maps.ubc_sched_cts, skeleton->maps.ubc_sched_exit, skeleton->maps.ubc_sched_stats,
                       skeleton->maps.ubc_sched_cgroup_policy, skeleton->maps.unthrottle_timers}) {
    fs::path path = pin_dir / bpf_map__name(map);
    if (int err = bpf_map__pin(map, path.c_str())) throw_system_error("bpf_map__pin(" + path.string() + ")", -err);
    guard.pinned(path);
  }
  // Attaching makes it the scheduler of every task; the kernel may still refuse (another
  // scheduler won the race, ops.init failed): then nothing above stays pinned.
  // The link is ours to close: libbpf 1.4's skeleton does not track struct_ops links, and
  // a process that kept it open would keep the scheduler loaded after `unload`.
  Link link(bpf_map__attach_struct_ops(skeleton->maps.ubc_sched_ops));
  if (!link) throw_libbpf("attaching the CPU scheduler (sched_ext struct_ops)", errno);
  const fs::path link_path = pin_dir / UBC_SCHED_PIN_LINK;
  if (int err = bpf_link__pin(link.get(), link_path.c_str()))
    throw_system_error("bpf_link__pin(" + link_path.string() + ")", -err);
  guard.commit();
}

void Scheduler::unload(const fs::path& engine_pin_dir) {
  const fs::path pin_dir = pin_dir_for(engine_pin_dir);
  if (!fs::exists(pin_dir))
    throw std::runtime_error("the CPU scheduler is not loaded (nothing in " + pin_dir.string() + ")");
  // The link first: dropping its last reference unregisters the scheduler, synchronously.
  const fs::path link_path = pin_dir / UBC_SCHED_PIN_LINK;
  if (fs::exists(link_path) && ::unlink(link_path.c_str())) throw_system_error("unlink(" + link_path.string() + ")");
  for (const auto& entry : fs::directory_iterator(pin_dir))
    if (::unlink(entry.path().c_str())) throw_system_error("unlink(" + entry.path().string() + ")");
  if (::rmdir(pin_dir.c_str())) throw_system_error("rmdir(" + pin_dir.string() + ")");
  // The kernel moves every task back to the fair class in a worker: wait for it, so that
  // whoever unloads sees the default scheduler when this returns.
  for (int waited_ms = 0; waited_ms < 10000; waited_ms += 10) {
    if (first_line("/sys/kernel/sched_ext/state") == "disabled") return;
    ::usleep(10000);
  }
  throw std::runtime_error("the kernel still reports sched_ext state \"" + first_line("/sys/kernel/sched_ext/state") +
                           "\" 10 s after the scheduler was unpinned");
}

Scheduler Scheduler::open(const fs::path& engine_pin_dir) {
  const fs::path pin_dir = pin_dir_for(engine_pin_dir);
  if (!fs::exists(pin_dir / UBC_SCHED_PIN_CTS))
    throw std::runtime_error("the CPU scheduler is not loaded; run `ubcctl sched load`");
  Scheduler scheduler;
  scheduler.groups_fd_ = open_pinned(pin_dir / UBC_SCHED_PIN_CTS);
  scheduler.exit_fd_ = open_pinned(pin_dir / UBC_SCHED_PIN_EXIT);
  scheduler.stats_fd_ = open_pinned(pin_dir / UBC_SCHED_PIN_STATS);
  const std::string reload = "run `ubcctl sched unload` and `ubcctl sched load` with this version";
  check_pinned_layout(scheduler.groups_fd_.get(), pin_dir / UBC_SCHED_PIN_CTS, sizeof(ubc_sched_ct), UBC_MAX_CTS,
                      reload);
  check_pinned_layout(scheduler.exit_fd_.get(), pin_dir / UBC_SCHED_PIN_EXIT, sizeof(ubc_sched_exit_info), 1, reload);
  check_pinned_layout(scheduler.stats_fd_.get(), pin_dir / UBC_SCHED_PIN_STATS, sizeof(std::uint64_t),
                      UBC_SCHED_STAT_COUNT, reload);
  scheduler.groups_ = map_array(scheduler.groups_fd_.get(), sizeof(ubc_sched_ct), UBC_MAX_CTS, UBC_SCHED_PIN_CTS);
  return scheduler;
}

std::optional<Scheduler::ExitInfo> Scheduler::exit_info() const {
  ubc_sched_exit_info raw{};
  const std::uint32_t key = 0;
  if (bpf_map_lookup_elem(exit_fd_.get(), &key, &raw))
    throw_system_error("bpf_map_lookup_elem(" UBC_SCHED_PIN_EXIT ")");
  if (raw.kind == 0) return std::nullopt;
  raw.reason[sizeof raw.reason - 1] = '\0';
  raw.msg[sizeof raw.msg - 1] = '\0';
  return ExitInfo{raw.kind, raw.exit_code, raw.reason, raw.msg};
}

std::span<const ubc_sched_ct, UBC_MAX_CTS> Scheduler::groups() const noexcept {
  return std::span<const ubc_sched_ct, UBC_MAX_CTS>(static_cast<const ubc_sched_ct*>(groups_.get()), UBC_MAX_CTS);
}

std::array<std::uint64_t, UBC_SCHED_STAT_COUNT> Scheduler::stats() const {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw_system_error("libbpf_num_possible_cpus", -cpus);
  std::array<std::uint64_t, UBC_SCHED_STAT_COUNT> totals{};
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  for (std::uint32_t stat = 0; stat < UBC_SCHED_STAT_COUNT; ++stat) {
    if (bpf_map_lookup_elem(stats_fd_.get(), &stat, per_cpu.data()))
      throw_system_error("bpf_map_lookup_elem(" UBC_SCHED_PIN_STATS ")");
    for (std::uint64_t value : per_cpu)
      totals[stat] = stat == UBC_SCHED_STAT_LONGEST_WAIT_NS ? std::max(totals[stat], value) : totals[stat] + value;
  }
  return totals;
}

void Scheduler::set_host_weight(std::uint32_t weight) {
  if (weight < 1 || weight > UBC_SCHED_MAX_WEIGHT)
    throw std::invalid_argument("host weight " + std::to_string(weight) + " is outside 1..10000");
  auto* host = const_cast<ubc_sched_ct*>(&groups()[UBC_SCHED_HOST_SLOT]);
  __atomic_store_n(&host->weight, weight, __ATOMIC_RELAXED);
}

std::string_view sched_stat_description(ubc_sched_stat stat) noexcept {
  switch (stat) {
    case UBC_SCHED_STAT_DIRECT:
      return "woken tasks sent straight to an idle CPU";
    case UBC_SCHED_STAT_QUEUED:
      return "tasks queued on their group's queue";
    case UBC_SCHED_STAT_DISPATCH:
      return "level-one decisions (a CPU picking a group)";
    case UBC_SCHED_STAT_GROUPS_READ:
      return "group records those decisions read";
    case UBC_SCHED_STAT_AFFINITY_MISS:
      return "picks whose group yielded nothing (another CPU took it; affinity)";
    case UBC_SCHED_STAT_THROTTLED:
      return "decisions that skipped a group out of cpulimit quota";
    case UBC_SCHED_STAT_PREEMPT:
      return "wake-ups that preempted a task further ahead";
    case UBC_SCHED_STAT_WAITS:
      return "tasks that left their group's queue to run";
    case UBC_SCHED_STAT_WAIT_NS:
      return "ns those tasks waited in the queue";
    case UBC_SCHED_STAT_WAITS_OVER_100MS:
      return "waits of 100 ms or more";
    case UBC_SCHED_STAT_WAITS_OVER_1S:
      return "waits of 1 s or more (the kernel ejects at 10 s)";
    case UBC_SCHED_STAT_LONGEST_WAIT_NS:
      return "ns of the longest wait since the scheduler loaded";
    case UBC_SCHED_STAT_COUNT:
      break;
  }
  return "?";
}

}  // namespace ubc
