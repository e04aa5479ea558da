#include "ubc/usage_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "loader/cgroup.h"
#include "loader/namespaces.h"
#include "loader/slot_access.h"
#include "ubc/kernel_counters.h"
#include "ubc/resource_table.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

using RowSums = std::array<std::uint64_t, UBC_RESOURCE_COUNT>;

std::uint64_t page_size() {
  return static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// What the iterators found, summed per slot; a record charged to an earlier owner of the
// slot (an older generation) is not the current CT's.
class IteratorSums {
 public:
  explicit IteratorSums(std::span<const ubc_ct, UBC_MAX_CTS> slots) : slots_(slots) {}

  void add(const std::vector<ubc_iter_record>& records) {
    for (const ubc_iter_record& record : records) {
      if (record.slot >= slots_.size() || record.resource >= UBC_RESOURCE_COUNT) continue;
      if (record.generation != slot_load(slots_[record.slot].generation)) continue;
      sums_[record.slot][record.resource] += record.amount;
    }
  }

  RowSums of(std::uint32_t slot) const {
    auto found = sums_.find(slot);
    return found == sums_.end() ? RowSums{} : found->second;
  }

 private:
  std::span<const ubc_ct, UBC_MAX_CTS> slots_;
  std::unordered_map<std::uint32_t, RowSums> sums_;
};

using NamespaceId = std::pair<dev_t, ino_t>;

std::optional<NamespaceId> network_namespace_of(const std::string& pid) {
  struct stat info {};
  if (::stat(("/proc/" + pid + "/ns/net").c_str(), &info)) return std::nullopt;
  return NamespaceId{info.st_dev, info.st_ino};
}

// The socket iterators see the reader's network namespace only: run them in each namespace
// some CT's task is in (through one of its tasks), each once.
void add_sockets(IteratorSums& sums, const fs::path& pin_dir, const std::vector<std::vector<pid_t>>& tasks_of_cts) {
  const auto ours = network_namespace_of("self");
  std::map<NamespaceId, pid_t> others;
  for (const auto& tasks : tasks_of_cts) {
    if (tasks.empty()) continue;
    const auto theirs = network_namespace_of(std::to_string(tasks.front()));
    if (theirs && theirs != ours) others.emplace(*theirs, tasks.front());
  }
  sums.add(Engine::iterate(pin_dir, Engine::IteratedObjects::sockets));
  for (const auto& [id, pid] : others) {
    try {
      ns::run_in_network_namespace(pid, [&] { sums.add(Engine::iterate(pin_dir, Engine::IteratedObjects::sockets)); });
    } catch (const std::exception&) {
      // the task exited meanwhile; sockets its namespace still holds are read with a later task
    }
  }
}

// Stores the kernel-kept rows into the CT's slot. Returns the CT's shared memory pages other
// than SysV segments: shmpages' held is those plus the SysV pages BPF charges.
std::uint64_t store_kernel_rows(ubc_ct& ct, KernelReading reading, const RowSums& iterated) {
  for (const auto& info : resource_table())
    if (info.held_from == HeldFrom::socket_iterators) reading.held[info.id] = iterated[info.id];
  const std::uint64_t shmem = reading.shmem_pages.value_or(0);
  const std::uint64_t sysv_resident = iterated[UBC_SHMPAGES];
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

std::vector<ContainerUsage> read_usage(Engine& engine, const fs::path& pin_dir, std::span<const CtToRead> cts) {
  const auto slots = engine.slots();
  std::vector<std::vector<pid_t>> tasks_of_cts;
  tasks_of_cts.reserve(cts.size());
  for (const auto& ct : cts) tasks_of_cts.push_back(cgroup::subtree_pids(ct.cgroup));
  IteratorSums iterated(slots);
  add_sockets(iterated, pin_dir, tasks_of_cts);
  iterated.add(Engine::iterate(pin_dir, Engine::IteratedObjects::sysv_segments));

  std::vector<ContainerUsage> usage;
  usage.reserve(cts.size());
  for (std::size_t i = 0; i < cts.size(); ++i) {
    const CtToRead& ct = cts[i];
    std::optional<KernelReading> reading;
    try {
      reading = read_kernel_counters(ct.cgroup, page_size(), tasks_of_cts[i]);
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
