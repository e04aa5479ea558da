#include "ubc/usage_reader.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <unordered_map>

#include "loader/namespaces.h"
#include "loader/slot_access.h"
#include "ubc/resource_table.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

std::uint64_t page_size() {
  return static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// What the iterators said about one CT.
struct IteratedCt {
  struct Row {
    std::uint64_t held = 0, maxheld = 0, failcnt = 0;
  };
  std::array<Row, UBC_RESOURCE_COUNT> rows{};
  std::map<std::uint64_t, pid_t> networks;  // namespace inode -> a process in it
};

// The iterators' records, per slot; a record about an earlier owner of the slot (an older
// generation) is not the current CT's.
class IteratedRows {
 public:
  explicit IteratedRows(std::span<const ubc_ct, UBC_MAX_CTS> slots) : slots_(slots) {}

  void add(const std::vector<ubc_iter_record>& records) {
    for (const ubc_iter_record& record : records) {
      if (record.slot >= slots_.size() || record.generation != slot_load(slots_[record.slot].generation)) continue;
      IteratedCt& ct = cts_[record.slot];
      switch (record.kind) {
        case UBC_ITER_ROW:
          if (record.resource < UBC_RESOURCE_COUNT) {
            IteratedCt::Row& row = ct.rows[record.resource];
            row.held += record.held;
            row.maxheld = std::max<std::uint64_t>(row.maxheld, record.maxheld);
            row.failcnt = std::max<std::uint64_t>(row.failcnt, record.failcnt);
          }
          break;
        case UBC_ITER_NETWORK:
          ct.networks.emplace(record.held, static_cast<pid_t>(record.maxheld));
          break;
        default:
          break;
      }
    }
  }

  const IteratedCt& of(std::uint32_t slot) const {
    static const IteratedCt nothing;
    auto found = cts_.find(slot);
    return found == cts_.end() ? nothing : found->second;
  }

 private:
  std::span<const ubc_ct, UBC_MAX_CTS> slots_;
  std::unordered_map<std::uint32_t, IteratedCt> cts_;
};

// The socket iterators see the reader's network namespace only: run them in ours, and in
// each other namespace a process of the CTs read is in (through that process), each once.
// A CT root that makes many namespaces costs a read one socket walk each, bounded by its
// numproc (a namespace is found through a process in it).
void add_sockets(IteratedRows& iterated, const fs::path& pin_dir, std::span<const CtToRead> cts) {
  std::map<std::uint64_t, pid_t> networks;
  for (const auto& ct : cts)
    networks.insert(iterated.of(ct.slot).networks.begin(), iterated.of(ct.slot).networks.end());
  // A namespace's inode number is the one nsfs shows for it.
  struct stat ours {};
  if (::stat("/proc/self/ns/net", &ours) == 0) networks.erase(ours.st_ino);
  iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::sockets));
  for (const auto& [inode, pid] : networks) {
    try {
      ns::run_in_network_namespace(pid,
                                   [&] { iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::sockets)); });
    } catch (const std::exception&) {
      // the process exited meanwhile: its namespace's sockets, if it lives on, are not read
    }
  }
}

// What the memcg iterator read of the CT in `slot` since `since_ns` (CLOCK_MONOTONIC).
std::optional<ubc_memcg_figures> fresh_figures(const Engine& engine, std::uint32_t slot, std::uint64_t since_ns) {
  const auto all = engine.memcg_figures();
  if (slot >= all.size()) return std::nullopt;
  const ubc_memcg_figures& figures = all[slot];
  if (__atomic_load_n(&figures.read_at_ns, __ATOMIC_ACQUIRE) < since_ns) return std::nullopt;
  ubc_memcg_figures copy = figures;
  if (copy.generation != slot_load(engine.slots()[slot].generation)) return std::nullopt;
  return copy;
}

std::uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(now.tv_nsec);
}

// Stores the kernel-kept rows into the CT's slot. Returns the CT's shared memory pages other
// than SysV segments: shmpages' held is those plus the SysV pages BPF charges.
std::uint64_t store_kernel_rows(ubc_ct& ct, KernelReading reading, const IteratedCt& iterated) {
  for (const auto& info : resource_table())
    if (info.held_from == HeldFrom::socket_iterators || info.held_from == HeldFrom::task_mm)
      reading.held[info.id] = iterated.rows[info.id].held;
  const std::uint64_t shmem = reading.shmem_pages.value_or(0);
  // The SysV segment iterator's records: the resident pages of the CT's segments.
  const std::uint64_t sysv_resident = iterated.rows[UBC_SHMPAGES].held;
  const std::uint64_t other_shm_pages = shmem > sysv_resident ? shmem - sysv_resident : 0;
  // BPF raises maxheld for SysV charges only; the whole row's mark is raised here.
  slot_raise(ct.res[UBC_SHMPAGES].maxheld, slot_load(ct.res[UBC_SHMPAGES].held) + other_shm_pages);
  // BPF never writes these rows: user space owns held, and maxheld only grows, so readers
  // racing here can only agree on a later, higher mark.
  for (const auto& info : resource_table()) {
    if (info.held_from == HeldFrom::slot || info.held_from == HeldFrom::slot_and_memcg) continue;
    ubc_counter& counter = ct.res[info.id];
    if (const auto& held = reading.held[info.id]) {
      slot_store(counter.held, *held);
      slot_raise(counter.maxheld, *held);
    }
    if (const auto& peak = reading.maxheld[info.id]) slot_raise(counter.maxheld, *peak);
    if (const auto& failcnt = reading.failcnt[info.id]) slot_raise(counter.failcnt, *failcnt);
  }
  return other_shm_pages;
}

}  // namespace

ubc_counter charged_counter(const ubc_ct& ct, ubc_resource resource) {
  const ubc_counter& live = ct.res[resource];
  return {slot_load(live.held), slot_load(live.maxheld), slot_load(live.barrier), slot_load(live.limit),
          slot_load(live.failcnt)};
}

std::optional<ubc_memcg_figures> iterated_memcg_figures(const Engine& engine, const fs::path& pin_dir,
                                                        std::uint32_t slot) {
  const std::uint64_t since = monotonic_ns();
  Engine::refresh_memcg_figures(pin_dir);
  return fresh_figures(engine, slot, since);
}

std::vector<ContainerUsage> read_usage(Engine& engine, const fs::path& pin_dir, std::span<const CtToRead> cts) {
  const auto slots = engine.slots();
  IteratedRows iterated(slots);
  iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::processes));
  iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::sysv_segments));
  add_sockets(iterated, pin_dir, cts);
  const std::uint64_t since = monotonic_ns();
  Engine::refresh_memcg_figures(pin_dir);

  std::vector<ContainerUsage> usage;
  usage.reserve(cts.size());
  for (const CtToRead& ct : cts) {
    std::optional<KernelReading> reading;
    try {
      // Without the memcg kfuncs the iterator reads nothing: the CT's memcg files then.
      auto figures = fresh_figures(engine, ct.slot, since);
      reading = memcg_rows(figures ? *figures : read_memcg_files(ct.cgroup, page_size()), page_size());
    } catch (const std::exception&) {
      std::error_code ignored;
      if (!fs::exists(ct.cgroup, ignored)) continue;  // destroyed while we read
      throw;
    }
    ubc_ct& slot = slots[ct.slot];
    const std::uint64_t other_shm_pages = store_kernel_rows(slot, std::move(*reading), iterated.of(ct.slot));
    ContainerUsage& row = usage.emplace_back(ContainerUsage{ct.ctid, {}});
    row.resources.reserve(resource_table().size());
    for (const auto& info : resource_table()) {
      ubc_counter counter = charged_counter(slot, info.id);
      if (info.held_from == HeldFrom::slot_and_memcg) {
        counter.held += other_shm_pages;
        counter.maxheld = std::max(counter.maxheld, counter.held);
      }
      row.resources.push_back({&info, counter});
    }
  }
  return usage;
}

}  // namespace ubc
