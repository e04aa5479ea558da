#include "ubc/usage_reader.h"

#include <sys/stat.h>
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
  std::optional<std::uint64_t> memcg_shmem_pages;  // set once its memcg figures were read
  std::map<std::uint64_t, pid_t> networks;         // namespace inode -> a process in it
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
        case UBC_ITER_MEMCG_SHMEM:
          ct.memcg_shmem_pages = record.held;
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

// The CT's memcg rows from the memcg iterator, or (a kernel without the memcg kfuncs)
// from its memcg files.
KernelReading memcg_reading(const IteratedCt& iterated, const fs::path& cgroup) {
  if (!iterated.memcg_shmem_pages) return read_memcg_files(cgroup, page_size());
  KernelReading reading;
  reading.shmem_pages = iterated.memcg_shmem_pages;
  for (const auto& info : resource_table()) {
    if (info.held_from != HeldFrom::memcg) continue;
    const IteratedCt::Row& row = iterated.rows[info.id];
    reading.held[info.id] = row.held;
    if (row.maxheld) reading.maxheld[info.id] = row.maxheld;
    if (row.failcnt) reading.failcnt[info.id] = row.failcnt;
  }
  return reading;
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

std::optional<KernelReading> iterated_memcg_reading(Engine& engine, const fs::path& pin_dir, std::uint32_t slot) {
  IteratedRows iterated(engine.slots());
  iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::memory_cgroups));
  if (!iterated.of(slot).memcg_shmem_pages) return std::nullopt;
  return memcg_reading(iterated.of(slot), {});
}

std::vector<ContainerUsage> read_usage(Engine& engine, const fs::path& pin_dir, std::span<const CtToRead> cts) {
  const auto slots = engine.slots();
  IteratedRows iterated(slots);
  iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::processes));
  iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::memory_cgroups));
  iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::sysv_segments));
  add_sockets(iterated, pin_dir, cts);

  std::vector<ContainerUsage> usage;
  usage.reserve(cts.size());
  for (const CtToRead& ct : cts) {
    std::optional<KernelReading> reading;
    try {
      reading = memcg_reading(iterated.of(ct.slot), ct.cgroup);
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
