// The rows ubc reads from the kernel's memory cgroup and mm counters, in a real kernel:
// each moves by what a CT process really does, and the kernel-limit rows reach memcg.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>

#include "loader/cgroup.h"
#include "loader/engine.h"
#include "ubc/kernel_counters.h"
#include "ubc/usage_reader.h"
#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::Workload;

namespace {
std::uint64_t held(const ScopedCt& ct, ubc_resource resource) {
  return ct.counter(resource).held;
}
std::filesystem::path cgroup_of(const ScopedCt& ct) {
  return ubc::test::host().paths().cgroup_root / ct.id();
}
}  // namespace

TEST_SUITE("memory rows") {
  TEST_CASE("lockedpages follows mlock exactly and returns to 0") {
    ScopedCt ct("mem-locked");
    Workload workload(ct);
    const std::uint64_t before = held(ct, UBC_LOCKEDPAGES);
    CHECK(workload.ask("mlock 256").at(0) == 0);
    CHECK(held(ct, UBC_LOCKEDPAGES) == before + 256);
    CHECK(ct.counter(UBC_LOCKEDPAGES).maxheld >= before + 256);
    workload.ask("unmap");
    CHECK(held(ct, UBC_LOCKEDPAGES) == before);
    CHECK(workload.finish() == 0);
    CHECK(held(ct, UBC_LOCKEDPAGES) == 0);
  }

  TEST_CASE("privvmpages counts private writable address space; physpages what is touched") {
    ScopedCt ct("mem-privvm");
    Workload workload(ct);
    const ubc_counter priv_before = ct.counter(UBC_PRIVVMPAGES);
    const std::uint64_t phys_before = held(ct, UBC_PHYSPAGES);
    CHECK(workload.ask("anon 8192").at(0) == 0);  // 32 MiB with 4 KiB pages
    CHECK(held(ct, UBC_PRIVVMPAGES) == priv_before.held + 8192);
    CHECK(held(ct, UBC_VMGUARPAGES) == priv_before.held + 8192);
    const std::uint64_t phys = held(ct, UBC_PHYSPAGES);
    CHECK(phys >= phys_before + 8192);
    CHECK(ct.counter(UBC_PHYSPAGES).maxheld >= phys);
    CHECK(held(ct, UBC_OOMGUARPAGES) >= 8192);
    workload.ask("unmap");
    CHECK(held(ct, UBC_PRIVVMPAGES) == priv_before.held);
    CHECK(ct.counter(UBC_PRIVVMPAGES).maxheld >= priv_before.held + 8192);
    CHECK(workload.finish() == 0);
    CHECK(held(ct, UBC_PRIVVMPAGES) == 0);
  }

  TEST_CASE("the memcg iterator reads what the memcg files say") {
    // One pass over the host's cgroups gives every CT's memcg rows; the files are read only
    // on a kernel without the memcg kfuncs. Both must agree on the same cgroup.
    ScopedCt ct("mem-iter");
    Workload workload(ct);
    CHECK(workload.ask("anon 4096").at(0) == 0);
    CHECK(workload.ask("memfd 512").at(0) == 0);
    CHECK(workload.ask("dentries 2000 /tmp").at(0) == 0);
    const auto& host = ubc::test::host();
    ubc::Engine engine = ubc::Engine::open(host.paths().pin_dir);
    const auto slot = ubc::test::host().slot_index(ct.id());
    REQUIRE(slot);
    const auto iterated = ubc::iterated_memcg_figures(engine, host.paths().pin_dir, *slot);
    REQUIRE_MESSAGE(iterated, "this kernel has no memcg kfuncs (Linux 6.19+): the engine reads memcg files");
    const auto files = ubc::read_memcg_files(cgroup_of(ct), static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)));
    // Read a moment apart, by a live process's cgroup: within 2% (and a little more).
    auto close_to = [](std::uint64_t a, std::uint64_t b, std::uint64_t slack) {
      const std::uint64_t diff = a > b ? a - b : b - a;
      return diff <= slack + std::max(a, b) / 50;
    };
    CHECK(close_to(iterated->memory_pages, files.memory_pages, 16));
    CHECK(close_to(iterated->memory_peak_pages, files.memory_peak_pages, 16));
    CHECK(iterated->memory_max_events == files.memory_max_events);
    CHECK(close_to(iterated->swap_pages, files.swap_pages, 16));
    CHECK(iterated->swap_max_events == files.swap_max_events);
    CHECK(close_to(iterated->kernel_bytes, files.kernel_bytes, 64 * 1024));
    CHECK(close_to(iterated->slab_reclaimable_bytes, files.slab_reclaimable_bytes, 64 * 1024));
    CHECK(close_to(iterated->anon_bytes, files.anon_bytes, 64 * 1024));
    CHECK(close_to(iterated->shmem_bytes, files.shmem_bytes, 16 * 1024));
    CHECK(iterated->memory_pages >= 4096 + 512);
    CHECK(iterated->shmem_bytes >= 512 * 4096);
    CHECK(iterated->memory_peak_pages >= iterated->memory_pages - 16);
    CHECK(workload.finish() == 0);
  }

  TEST_CASE("dcachesize and kmemsize grow with the CT's dentries and inodes") {
    ScopedCt ct("mem-dcache");
    Workload workload(ct);
    const std::uint64_t dcache_before = held(ct, UBC_DCACHESIZE);
    const std::uint64_t kmem_before = held(ct, UBC_KMEMSIZE);
    CHECK(workload.ask("dentries 5000 /tmp").at(0) == 0);
    // Each file costs at least a dentry (192 bytes) and an inode (~600 on tmpfs).
    CHECK(held(ct, UBC_DCACHESIZE) >= dcache_before + 5000 * 192);
    CHECK(held(ct, UBC_KMEMSIZE) >= kmem_before + 5000 * 192);
  }

  TEST_CASE("physpages and swappages limits go to memory.max and memory.swap.max") {
    ScopedCt ct("mem-limit");
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    ct.set(UBC_PHYSPAGES, 0, 16384);
    CHECK(ubc::cgroup::read_file(cgroup_of(ct) / "memory.max") == std::to_string(16384 * page) + "\n");
    ct.set(UBC_PHYSPAGES, 0, UBC_UNLIMITED);
    CHECK(ubc::cgroup::read_file(cgroup_of(ct) / "memory.max") == "max\n");
    if (std::filesystem::exists(cgroup_of(ct) / "memory.swap.max")) {
      ct.set(UBC_SWAPPAGES, 0, 256);
      CHECK(ubc::cgroup::read_file(cgroup_of(ct) / "memory.swap.max") == std::to_string(256 * page) + "\n");
    } else {
      MESSAGE("SKIP swappages limit: this kernel has no memory.swap.max (no swap accounting)");
    }
  }

  TEST_CASE("past its physpages limit a CT is held there by the kernel and failcnt counts it") {
    ScopedCt ct("mem-oom");
    ct.set(UBC_PHYSPAGES, 0, 4096);  // 16 MiB
    {
      Workload workload(ct);
      workload.ask("anon 1024");
      CHECK(ct.counter(UBC_PHYSPAGES).failcnt == 0);
    }
    // A process touching 64 MiB in a 16 MiB CT is reclaimed into swap or OOM-killed in
    // the CT; either way the kernel counted the limit being hit.
    const int status = ubc::test::host().exec(ct.id(), {"bash", "-c", "echo anon 16384 | ubc-test-workload"});
    MESSAGE("64 MiB in a 16 MiB CT exited with status " << status);
    CHECK(ct.counter(UBC_PHYSPAGES).failcnt > 0);
    CHECK(ct.counter(UBC_PHYSPAGES).held <= 4096);
  }
}
