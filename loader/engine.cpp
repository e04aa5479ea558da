#include "loader/engine.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "loader/error.h"
#include "loader/libbpf_support.h"
#include "loader/slot_access.h"
#include "ubc.skel.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

using Skeleton = LibbpfPtr<ubc_bpf, &ubc_bpf__destroy>;

// numiptent's programs attach to functions of the nf_tables module: load it if the kernel
// has it (as the first `nft` command would), else leave those programs out.
void prepare_nf_tables(ubc_bpf& skeleton) {
  if (nf_tables_available()) return;
  for (bpf_program* program : {skeleton.progs.ubc_numiptent_reserve, skeleton.progs.ubc_numiptent_charge,
                               skeleton.progs.ubc_numiptent_commit_done, skeleton.progs.ubc_numiptent_abort_done,
                               skeleton.progs.ubc_numiptent_uncharge, skeleton.progs.ubc_numiptent_task_free})
    bpf_program__set_autoload(program, false);
}

// Sizes each owner map and tells the programs every CT's share of it.
void size_owner_maps(ubc_bpf& skeleton, const EngineSizing& sizing) {
  struct OwnerMap {
    bpf_map* map;
    std::uint32_t capacity;
    volatile __u64* share;
  };
  volatile __u64* shares = skeleton.rodata->ubc_object_share;
  // One entry per line of UBC_OWNER_MAPS (maps/ubc_maps.h), and the SysV segments' map.
  // clang-format off
#define UBC_OWNER_MAP_ENTRY(map, resource, capacity) OwnerMap{skeleton.maps.map, capacity, &shares[resource]},
  const OwnerMap owner_maps[] = {
      UBC_OWNER_MAPS(UBC_OWNER_MAP_ENTRY)
      OwnerMap{skeleton.maps.ubc_shm_owner, UBC_MAX_TRACKED_SHM_SEGMENTS, &skeleton.rodata->ubc_shm_segment_share},
  };
  // clang-format on
#undef UBC_OWNER_MAP_ENTRY
  // An owner map left out of the list would be unsized and unshared: refuse to load.
  bpf_map* declared = nullptr;
  bpf_object__for_each_map(declared, skeleton.obj) {
    const std::string_view name = bpf_map__name(declared);
    const bool listed =
        std::ranges::any_of(owner_maps, [&](const OwnerMap& listed_map) { return listed_map.map == declared; });
    if (name.ends_with("_owner") && bpf_map__type(declared) == BPF_MAP_TYPE_HASH && !listed)
      throw std::logic_error("owner map " + std::string(name) + " is not listed in UBC_OWNER_MAPS (maps/ubc_maps.h)");
  }
  if (sizing.owner_map_divisor == 0) throw std::invalid_argument("EngineSizing: owner_map_divisor must be at least 1");
  for (const OwnerMap& owner_map : owner_maps) {
    const std::uint32_t capacity =
        std::max<std::uint32_t>(owner_map.capacity / sizing.owner_map_divisor, UBC_OWNER_MAP_SHARE_DIVISOR);
    if (int err = bpf_map__set_max_entries(owner_map.map, capacity))
      throw_libbpf("sizing the owner map " + std::string(bpf_map__name(owner_map.map)), -err);
    *owner_map.share = capacity / UBC_OWNER_MAP_SHARE_DIVISOR;
  }
}

Skeleton open_and_load(const EngineSizing& sizing = {}) {
  capture_libbpf_messages();
  Skeleton skeleton(ubc_bpf__open());
  if (!skeleton) throw_libbpf("opening the BPF engine (ubc_bpf__open)", errno);
  prepare_nf_tables(*skeleton);
  size_owner_maps(*skeleton, sizing);
  // The map-element and cgroup iterators need link info at attach time: attached in load.
  bpf_program__set_autoattach(skeleton->progs.ubc_iter_shm, false);
  bpf_program__set_autoattach(skeleton->progs.ubc_iter_memcg, false);
  if (int err = ubc_bpf__load(skeleton.get())) throw_libbpf("loading the BPF engine into the kernel", -err);
  return skeleton;
}

}  // namespace

bool nf_tables_available() {
  if (fs::exists("/sys/module/nf_tables")) return true;
  const pid_t child = ::fork();
  if (child == 0) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    ::execlp("modprobe", "modprobe", "-q", "nf_tables", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (child > 0) {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  return fs::exists("/sys/module/nf_tables");
}

std::string_view engine_stat_description(ubc_engine_stat stat) noexcept {
  switch (stat) {
    case UBC_STAT_OWNER_MAP_FULL:
      return "allocations refused because an owner map was full";
    case UBC_STAT_FILE_ALLOC_ROLLBACK:
      return "file charges rolled back after the kernel failed the allocation";
    case UBC_STAT_CHARGE_CONTENDED:
      return "charges that fell back from compare-and-swap (contention)";
    case UBC_STAT_LATE_CHARGE:
      return "files charged late at open (both fmod_ret charges skipped)";
    case UBC_STAT_EVENTS_DROPPED:
      return "refusal events lost (ring buffer full, nobody reading)";
    case UBC_STAT_UNSIZED_SHM:
      return "SysV segments left uncharged (size not seen)";
    case UBC_STAT_FLOCK_UNTRACKED:
      return "lock lists too long to walk after a request (objects uncharged)";
    case UBC_STAT_IPTENT_UNRESERVED:
      return "nftables rules charged without a reservation (forced)";
    case UBC_STAT_FLOCK_LATE_SETTLE:
      return "lock requests settled at the next request (settle program skipped)";
    case UBC_STAT_FLOCK_SETTLE_LOST:
      return "lock requests never settled (skipped, file closed; objects uncharged)";
    case UBC_STAT_FLOCK_LIST_FULL:
      return "lock requests refused: their inode's lock list was too long to follow";
    case UBC_STAT_COUNT:
      break;
  }
  return "?";
}

void Engine::load(const fs::path& pin_dir, const EngineSizing& sizing) {
  if (is_loaded(pin_dir)) throw std::runtime_error("the engine is already loaded (pinned in " + pin_dir.string() + ")");
  Skeleton skeleton = open_and_load(sizing);
  if (int err = ubc_bpf__attach(skeleton.get())) throw_libbpf("attaching the BPF engine", -err);
  bpf_iter_link_info shm_owner{};
  shm_owner.map.map_fd = static_cast<__u32>(bpf_map__fd(skeleton->maps.ubc_shm_owner));
  LIBBPF_OPTS(bpf_iter_attach_opts, iter_options, .link_info = &shm_owner, .link_info_len = sizeof shm_owner);
  skeleton->links.ubc_iter_shm = bpf_program__attach_iter(skeleton->progs.ubc_iter_shm, &iter_options);
  if (!skeleton->links.ubc_iter_shm) throw_libbpf("attaching the SysV segment iterator", errno);
  bpf_iter_link_info every_cgroup{};  // no cgroup named: from the root of the hierarchy
  every_cgroup.cgroup.order = BPF_CGROUP_ITER_DESCENDANTS_PRE;
  LIBBPF_OPTS(bpf_iter_attach_opts, cgroup_options, .link_info = &every_cgroup, .link_info_len = sizeof every_cgroup);
  skeleton->links.ubc_iter_memcg = bpf_program__attach_iter(skeleton->progs.ubc_iter_memcg, &cgroup_options);
  if (!skeleton->links.ubc_iter_memcg) throw_libbpf("attaching the memory cgroup iterator", errno);

  std::error_code ec;
  fs::create_directories(pin_dir, ec);
  if (ec) throw std::runtime_error("creating " + pin_dir.string() + ": " + ec.message());

  PinGuard guard;
  // Every program's link and every ubc_* map, taken from the skeleton's own tables so that
  // a new resource's hooks are pinned without touching this file. Links first: if pinning
  // fails half-way, unpinning them detaches the programs again.
  const bpf_object_skeleton* tables = skeleton->skeleton;
  for (int i = 0; i < tables->prog_cnt; ++i) {
    if (!*tables->progs[i].link) continue;  // left out (prepare_nf_tables)
    fs::path path = pin_dir / (std::string("link_") + tables->progs[i].name);
    if (int err = bpf_link__pin(*tables->progs[i].link, path.c_str()))
      throw_system_error("bpf_link__pin(" + path.string() + ")", -err);
    guard.pinned(path);
  }
  for (int i = 0; i < tables->map_cnt; ++i) {
    const std::string name = tables->maps[i].name;
    if (bpf_map__is_internal(*tables->maps[i].map)) continue;  // .rodata/.bss: the programs keep them
    fs::path path = pin_dir / name;
    if (int err = bpf_map__pin(*tables->maps[i].map, path.c_str()))
      throw_system_error("bpf_map__pin(" + path.string() + ")", -err);
    guard.pinned(path);
  }
  guard.commit();
}

void Engine::unload(const fs::path& pin_dir) {
  if (!is_loaded(pin_dir))
    throw std::runtime_error("the engine is not loaded (nothing pinned in " + pin_dir.string() + ")");
  std::vector<fs::path> pins;
  for (const auto& entry : fs::directory_iterator(pin_dir)) pins.push_back(entry.path());
  // Links before maps, so no program runs against a half-removed engine.
  std::stable_partition(pins.begin(), pins.end(),
                        [](const fs::path& p) { return p.filename().string().starts_with("link_"); });
  for (const auto& path : pins)
    if (::unlink(path.c_str())) throw_system_error("unlink(" + path.string() + ")");
  if (::rmdir(pin_dir.c_str())) throw_system_error("rmdir(" + pin_dir.string() + ")");
}

bool Engine::is_loaded(const fs::path& pin_dir) {
  return fs::exists(pin_dir / UBC_PIN_CTS);
}

std::optional<std::string> Engine::probe_load() {
  try {
    open_and_load();
    return std::nullopt;
  } catch (const std::exception& error) {
    return error.what();
  }
}

Engine Engine::open(const fs::path& pin_dir) {
  if (!is_loaded(pin_dir)) throw std::runtime_error("the engine is not loaded; run `ubcctl load` first");
  Engine engine;
  engine.cts_fd_ = open_pinned(pin_dir / UBC_PIN_CTS);
  engine.ct_index_fd_ = open_pinned(pin_dir / UBC_PIN_CT_INDEX);
  engine.stats_fd_ = open_pinned(pin_dir / UBC_PIN_ENGINE_STATS);
  const std::string reload = "run `ubcctl unload` and `ubcctl load` with this version";
  check_pinned_layout(engine.cts_fd_.get(), pin_dir / UBC_PIN_CTS, sizeof(ubc_ct), UBC_MAX_CTS, reload);
  check_pinned_layout(engine.ct_index_fd_.get(), pin_dir / UBC_PIN_CT_INDEX, sizeof(std::uint32_t), UBC_MAX_CTS,
                      reload);
  engine.cts_ = map_array(engine.cts_fd_.get(), sizeof(ubc_ct), UBC_MAX_CTS, UBC_PIN_CTS);
  if (fs::exists(pin_dir / UBC_PIN_CT_MEMCG)) {
    engine.memcg_fd_ = open_pinned(pin_dir / UBC_PIN_CT_MEMCG);
    check_pinned_layout(engine.memcg_fd_.get(), pin_dir / UBC_PIN_CT_MEMCG, sizeof(ubc_memcg_figures), UBC_MAX_CTS,
                        reload);
    engine.memcg_ = map_array(engine.memcg_fd_.get(), sizeof(ubc_memcg_figures), UBC_MAX_CTS, UBC_PIN_CT_MEMCG);
  }
  if (fs::exists(pin_dir / UBC_PIN_REGISTRY)) {
    engine.registry_fd_ = open_pinned(pin_dir / UBC_PIN_REGISTRY);
    check_pinned_layout(engine.registry_fd_.get(), pin_dir / UBC_PIN_REGISTRY, sizeof(ubc_registry), 1, reload);
    engine.registry_ = map_array(engine.registry_fd_.get(), sizeof(ubc_registry), 1, UBC_PIN_REGISTRY);
  }
  if (fs::exists(pin_dir / UBC_PIN_HELPER_CGROUPS))
    engine.helper_cgroups_fd_ = open_pinned(pin_dir / UBC_PIN_HELPER_CGROUPS);
  if (fs::exists(pin_dir / UBC_PIN_DEVICES)) {
    engine.devices_fd_ = open_pinned(pin_dir / UBC_PIN_DEVICES);
    engine.device_guard_fd_ = open_pinned(pin_dir / UBC_PIN_DEVICE_GUARD);
  }
  return engine;
}

bool Engine::is_pinned_in(const fs::path& pin_dir) const {
  return is_pinned_at(cts_fd_.get(), pin_dir / UBC_PIN_CTS);
}

void Engine::clear_device_rules(std::uint32_t slot) {
  if (!devices_fd_) return;  // an older engine never enforced any
  const std::uint64_t off = 0;
  // The guard first: from here on no open is judged by half-removed rules.
  if (bpf_map_update_elem(device_guard_fd_.get(), &slot, &off, BPF_ANY))
    throw_system_error("bpf_map_update_elem(" UBC_PIN_DEVICE_GUARD ")");
  std::vector<ubc_device_key> stale;
  ubc_device_key key{}, next{};
  for (const void* previous = nullptr; bpf_map_get_next_key(devices_fd_.get(), previous, &next) == 0; previous = &key) {
    if (next.slot == slot) stale.push_back(next);
    key = next;
  }
  for (const auto& rule : stale)
    if (bpf_map_delete_elem(devices_fd_.get(), &rule) && errno != ENOENT)
      throw_system_error("bpf_map_delete_elem(" UBC_PIN_DEVICES ")");
}

void Engine::set_device_rules(std::uint32_t slot, const std::vector<DeviceRule>& rules) {
  if (!devices_fd_)
    throw std::runtime_error("the loaded engine predates device rules: run `ubcctl unload` and `ubcctl load`");
  clear_device_rules(slot);
  for (const auto& rule : rules) {
    const ubc_device_key key{slot, rule.type, rule.major, rule.minor};
    if (bpf_map_update_elem(devices_fd_.get(), &key, &rule.access, BPF_ANY))
      throw_system_error("bpf_map_update_elem(" UBC_PIN_DEVICES ")");
  }
  const std::uint64_t generation = __atomic_load_n(&slots()[slot].generation, __ATOMIC_RELAXED);
  if (bpf_map_update_elem(device_guard_fd_.get(), &slot, &generation, BPF_ANY))
    throw_system_error("bpf_map_update_elem(" UBC_PIN_DEVICE_GUARD ")");
}

std::span<const ubc_memcg_figures> Engine::memcg_figures() const noexcept {
  if (!memcg_.get()) return {};
  return {static_cast<const ubc_memcg_figures*>(memcg_.get()), UBC_MAX_CTS};
}

void Engine::refresh_memcg_figures(const fs::path& pin_dir) {
  const fs::path link = pin_dir / "link_ubc_iter_memcg";
  UniqueFd link_fd = open_pinned(link);
  UniqueFd iter(bpf_iter_create(link_fd.get()));
  if (!iter) throw_system_error("bpf_iter_create(" + link.string() + ")");
  char nothing[64];  // it writes to its map; the read runs it
  for (ssize_t got; (got = ::read(iter.get(), nothing, sizeof nothing)) != 0;)
    if (got < 0 && errno != EINTR) throw_system_error("read(" + link.string() + " iterator)");
}

std::span<ubc_ct, UBC_MAX_CTS> Engine::slots() const noexcept {
  return std::span<ubc_ct, UBC_MAX_CTS>(static_cast<ubc_ct*>(cts_.get()), UBC_MAX_CTS);
}

std::uint32_t Engine::claim_slot(std::uint64_t cgroup_id) {
  const auto all = slots();
  auto free = std::find_if(all.begin() + 1, all.end(), [](const ubc_ct& ct) { return slot_load(ct.cgroup_id) == 0; });
  if (free == all.end())
    throw std::runtime_error("no free CT slot: the engine holds " + std::to_string(UBC_MAX_CTS - 1) + " CTs at most");
  ubc_ct& ct = *free;
  for (auto& counter : ct.res) {
    slot_store(counter.held, 0);
    slot_store(counter.maxheld, 0);
    slot_store(counter.failcnt, 0);
    slot_store(counter.barrier, UBC_UNLIMITED);
    slot_store(counter.limit, UBC_UNLIMITED);
  }
  slot_store(ct.shm_segments, 0);
  slot_store(ct.generation, slot_load(ct.generation) + 1);
  slot_store(ct.cgroup_id, cgroup_id);
  return static_cast<std::uint32_t>(free - all.begin());
}

void Engine::release_slot(std::uint32_t slot) {
  ubc_ct& ct = slots()[slot];
  slot_store(ct.generation, slot_load(ct.generation) + 1);
  slot_store(ct.cgroup_id, 0);
}

void Engine::set_slot_limits(std::uint32_t slot, ubc_resource resource, std::uint64_t barrier, std::uint64_t limit) {
  ubc_counter& counter = slots()[slot].res[resource];
  slot_store(counter.barrier, barrier);
  slot_store(counter.limit, limit);
}

std::optional<std::uint32_t> Engine::find_slot(std::uint64_t cgroup_id) const {
  std::uint32_t slot;
  if (bpf_map_lookup_elem(ct_index_fd_.get(), &cgroup_id, &slot) == 0) return slot;
  if (errno != ENOENT) throw_system_error("bpf_map_lookup_elem(" UBC_PIN_CT_INDEX ")");
  return std::nullopt;
}

void Engine::bind_slot(std::uint64_t cgroup_id, std::uint32_t slot) {
  if (bpf_map_update_elem(ct_index_fd_.get(), &cgroup_id, &slot, BPF_NOEXIST))
    throw_system_error("bpf_map_update_elem(" UBC_PIN_CT_INDEX ")");
  registry_changed();
}

bool Engine::set_helper_cgroup(std::uint64_t helper_cgroup_id, std::uint64_t ct_cgroup_id) {
  if (!helper_cgroups_fd_) return false;
  if (bpf_map_update_elem(helper_cgroups_fd_.get(), &helper_cgroup_id, &ct_cgroup_id, BPF_ANY))
    throw_system_error("bpf_map_update_elem(" UBC_PIN_HELPER_CGROUPS ")");
  registry_changed();  // the scheduler caches a host task's answer under the epoch
  return true;
}

void Engine::forget_helper_cgroup(std::uint64_t helper_cgroup_id) {
  if (!helper_cgroups_fd_) return;
  if (bpf_map_delete_elem(helper_cgroups_fd_.get(), &helper_cgroup_id) && errno != ENOENT)
    throw_system_error("bpf_map_delete_elem(" UBC_PIN_HELPER_CGROUPS ")");
  registry_changed();
}

void Engine::registry_changed() noexcept {
  // After the index changed, never before (bpf/ct_cache.bpf.h reads the epoch first), and
  // atomically: two commands changing the registry at once must move it twice.
  if (auto* registry = static_cast<ubc_registry*>(registry_.get()))
    std::atomic_ref(registry->epoch).fetch_add(1, std::memory_order_seq_cst);
}

std::vector<Engine::Binding> Engine::bindings() const {
  std::vector<Binding> found;
  std::uint64_t key = 0;
  const std::uint64_t* previous = nullptr;  // null: from the first key
  while (bpf_map_get_next_key(ct_index_fd_.get(), previous, &key) == 0) {
    std::uint32_t slot = 0;
    // A key deleted between the two calls is simply not listed.
    if (bpf_map_lookup_elem(ct_index_fd_.get(), &key, &slot) == 0)
      found.push_back({key, slot});
    else if (errno != ENOENT)
      throw_system_error("bpf_map_lookup_elem(" UBC_PIN_CT_INDEX ")");
    previous = &key;
  }
  if (errno != ENOENT) throw_system_error("bpf_map_get_next_key(" UBC_PIN_CT_INDEX ")");
  return found;
}

void Engine::unbind_slot(std::uint64_t cgroup_id) {
  if (bpf_map_delete_elem(ct_index_fd_.get(), &cgroup_id) && errno != ENOENT)
    throw_system_error("bpf_map_delete_elem(" UBC_PIN_CT_INDEX ")");
  registry_changed();
}

std::vector<Engine::CheckedBinding> Engine::checked_bindings() const {
  std::vector<CheckedBinding> found;
  for (const auto& [cgroup_id, slot] : bindings())
    found.push_back({cgroup_id, slot, slot < UBC_MAX_CTS ? slot_load(slots()[slot].cgroup_id) : 0});
  return found;
}

std::vector<std::uint32_t> Engine::unbound_slots_in_use() const {
  std::set<std::uint32_t> bound;
  for (const auto& binding : bindings()) bound.insert(binding.slot);
  std::vector<std::uint32_t> unbound;
  for (std::uint32_t slot = 1; slot < UBC_MAX_CTS; ++slot)
    if (slot_load(slots()[slot].cgroup_id) != 0 && !bound.contains(slot)) unbound.push_back(slot);
  return unbound;
}

std::array<std::uint64_t, UBC_STAT_COUNT> Engine::stats() const {
  std::array<std::uint64_t, UBC_STAT_COUNT> values{};
  for (std::uint32_t key = 0; key < UBC_STAT_COUNT; ++key)
    if (bpf_map_lookup_elem(stats_fd_.get(), &key, &values[key]))
      throw_system_error("bpf_map_lookup_elem(" UBC_PIN_ENGINE_STATS ")");
  return values;
}

std::vector<ubc_iter_record> Engine::iterate(const fs::path& pin_dir, IteratedObjects objects) {
  static constexpr const char* kSocketIterators[] = {"tcp", "udp", "unix"};
  static constexpr const char* kSegmentIterators[] = {"shm"};
  static constexpr const char* kTaskIterators[] = {"task_mm"};
  std::span<const char* const> names;
  switch (objects) {
    case IteratedObjects::sockets:
      names = kSocketIterators;
      break;
    case IteratedObjects::sysv_segments:
      names = kSegmentIterators;
      break;
    case IteratedObjects::processes:
      names = kTaskIterators;
      break;
  }
  std::vector<ubc_iter_record> records;
  std::vector<char> bytes;
  for (const char* name : names) {
    const fs::path link = pin_dir / (std::string("link_ubc_iter_") + name);
    UniqueFd link_fd = open_pinned(link);
    UniqueFd iter(bpf_iter_create(link_fd.get()));
    if (!iter) throw_system_error("bpf_iter_create(" + link.string() + ")");
    bytes.clear();
    char buffer[65536];
    for (;;) {
      const ssize_t got = ::read(iter.get(), buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw_system_error("read(" + link.string() + " iterator)");
      if (got == 0) break;
      bytes.insert(bytes.end(), buffer, buffer + got);
    }
    const std::size_t count = bytes.size() / sizeof(ubc_iter_record);
    const std::size_t first = records.size();
    records.resize(first + count);
    std::memcpy(records.data() + first, bytes.data(), count * sizeof(ubc_iter_record));
  }
  return records;
}

std::vector<Engine::ProgramHealth> Engine::program_health(const fs::path& pin_dir) {
  std::vector<ProgramHealth> programs;
  for (const auto& entry : fs::directory_iterator(pin_dir)) {
    if (!entry.path().filename().string().starts_with("link_")) continue;
    UniqueFd link = open_pinned(entry.path());
    bpf_link_info link_info{};
    std::uint32_t length = sizeof link_info;
    if (bpf_link_get_info_by_fd(link.get(), &link_info, &length))
      throw_system_error("bpf_link_get_info_by_fd(" + entry.path().string() + ")");
    UniqueFd program(bpf_prog_get_fd_by_id(link_info.prog_id));
    if (!program) throw_system_error("bpf_prog_get_fd_by_id(" + std::to_string(link_info.prog_id) + ")");
    bpf_prog_info info{};
    length = sizeof info;
    if (bpf_prog_get_info_by_fd(program.get(), &info, &length)) throw_system_error("bpf_prog_get_info_by_fd");
    // The kernel keeps 15 characters of a program's name; the pin has all of it.
    programs.push_back({entry.path().filename().string().substr(5), info.recursion_misses});
  }
  std::sort(programs.begin(), programs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return programs;
}

}  // namespace ubc
