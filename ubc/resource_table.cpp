#include "ubc/resource_table.h"

#include <array>

namespace ubc {
namespace {

// clang-format off
constexpr std::array<ResourceInfo, UBC_RESOURCE_COUNT> kTable{{
    {UBC_KMEMSIZE, "kmemsize", Unit::bytes, Support::accounted, HeldFrom::memcg, RefusedAt::never, "-",
     "memcg memory.stat kernel (slab, stacks, page tables, percpu, sockets, vmalloc)",
     "", "not refused: cgroup v2 has no limit for kernel memory alone"},
    {UBC_LOCKEDPAGES, "lockedpages", Unit::pages, Support::accounted, HeldFrom::task_mm, RefusedAt::never, "-",
     "mm->locked_vm (VmLck) of the CT's processes",
     "", "not refused: no LSM hook on mlock; SysV SHM_LOCK pages not counted"},
    {UBC_PRIVVMPAGES, "privvmpages", Unit::pages, Support::accounted, HeldFrom::task_mm, RefusedAt::never, "-",
     "mm->data_vm + mm->stack_vm (VmData + VmStk) of the CT's processes",
     "", "not refused: the kernel unaccounts address space with no hook"},
    {UBC_SHMPAGES, "shmpages", Unit::pages, Support::enforced, HeldFrom::slot_and_memcg, RefusedAt::barrier, "ENOMEM",
     "SysV: fentry/newseg (size), lsm/shm_alloc_security (charge, refuse), lsm/shm_free_security (uncharge); others: memcg shmem less resident SysV pages (iter/bpf_map_elem)",
     "", "only new SysV segments refused; tmpfs, POSIX shm, memfd, shared anon bounded by physpages"},
    {UBC_NUMPROC, "numproc", Unit::count, Support::enforced, HeldFrom::slot, RefusedAt::barrier, "ENOMEM",
     "lsm/task_alloc (charge, refuse), tp_btf/cgroup_attach_task + fentry/cgroup_post_fork (move), lsm/task_free (uncharge)",
     "", ""},
    {UBC_PHYSPAGES, "physpages", Unit::pages, Support::kernel_limit, HeldFrom::memcg, RefusedAt::limit, "- (OOM in the CT)",
     "memcg memory.current, memory.peak, memory.events max; limit -> memory.max",
     "memory.max", "enforced by the kernel's memcg, not by ubc"},
    {UBC_VMGUARPAGES, "vmguarpages", Unit::pages, Support::accounted, HeldFrom::task_mm, RefusedAt::never, "-",
     "the privvmpages held it guarantees",
     "", "the guarantee is not implemented; held is privvmpages'"},
    {UBC_OOMGUARPAGES, "oomguarpages", Unit::pages, Support::accounted, HeldFrom::memcg, RefusedAt::never, "-",
     "memcg anon + unevictable + memory.swap.current",
     "", "OOM protection is not implemented"},
    {UBC_NUMTCPSOCK, "numtcpsock", Unit::count, Support::enforced, HeldFrom::slot, RefusedAt::barrier, "ENOBUFS",
     "lsm/socket_post_create (charge, refuse), lsm/inet_conn_request (drop SYN), lsm/inet_csk_clone (charge accepted child), lsm/sk_free_security (uncharge)",
     "", "accepted connections in flight are charged even past the barrier"},
    {UBC_NUMFLOCK, "numflock", Unit::count, Support::enforced, HeldFrom::slot, RefusedAt::barrier, "ENOLCK (fcntl), ENOMEM (flock, leases)",
     "lsm/file_lock (reserve, refuse), fexit/fcntl_setlk, fexit/fcntl_setlease, fexit/locks_lock_inode_wait (charge listed objects), fentry/fcntl_setlk (the range, to foresee splits), fentry/locks_unlink_lock_ctx (uncharge)",
     "", ""},
    {UBC_NUMPTY, "numpty", Unit::count, Support::enforced, HeldFrom::slot, RefusedAt::barrier, "ENOMEM",
     "lsm/file_open of char device 5:2 (charge, refuse), lsm/file_free_security (uncharge)",
     "", ""},
    {UBC_NUMSIGINFO, "numsiginfo", Unit::count, Support::enforced, HeldFrom::slot, RefusedAt::barrier, "EAGAIN",
     "lsm/task_kill (reserve, refuse real-time signals), fentry and fexit/__send_signal_locked (charge a newly queued sigqueue), fexit/do_send_sig_info (settle), fentry/__sigqueue_free (uncharge)",
     "", "signals the kernel generates are charged but cannot be refused"},
    {UBC_TCPSNDBUF, "tcpsndbuf", Unit::bytes, Support::accounted, HeldFrom::socket_iterators, RefusedAt::never, "-",
     "iter/tcp: sk_wmem_queued of the CT's TCP sockets",
     "", "not refused: socket memory scheduling has no hook; read in the CT's netns"},
    {UBC_TCPRCVBUF, "tcprcvbuf", Unit::bytes, Support::accounted, HeldFrom::socket_iterators, RefusedAt::never, "-",
     "iter/tcp: sk_rmem_alloc of the CT's TCP sockets",
     "", "not refused: socket memory scheduling has no hook; read in the CT's netns"},
    {UBC_OTHERSOCKBUF, "othersockbuf", Unit::bytes, Support::accounted, HeldFrom::socket_iterators, RefusedAt::never, "-",
     "iter/unix, iter/udp: sk_wmem_alloc of the CT's other sockets",
     "", "not refused: socket memory scheduling has no hook; read in the CT's netns"},
    {UBC_DGRAMRCVBUF, "dgramrcvbuf", Unit::bytes, Support::accounted, HeldFrom::socket_iterators, RefusedAt::never, "-",
     "iter/unix, iter/udp: sk_rmem_alloc of the CT's other sockets",
     "", "not refused: socket memory scheduling has no hook; read in the CT's netns"},
    {UBC_NUMOTHERSOCK, "numothersock", Unit::count, Support::enforced, HeldFrom::slot, RefusedAt::barrier, "ENOBUFS (inet), ENOMEM (AF_UNIX and others)",
     "lsm/socket_post_create (charge, refuse), lsm/unix_stream_connect (charge, refuse the server end), lsm/sk_free_security (uncharge)",
     "", "SCTP peel-off and MPTCP subflows not charged"},
    {UBC_DCACHESIZE, "dcachesize", Unit::bytes, Support::accounted, HeldFrom::memcg, RefusedAt::never, "-",
     "memcg memory.stat slab_reclaimable",
     "", "not refused: no dentry allocation hook; memcg reclaimable slab, not dentries alone"},
    {UBC_NUMFILE, "numfile", Unit::count, Support::enforced, HeldFrom::slot, RefusedAt::barrier, "ENFILE",
     "fmod_ret/security_file_alloc x2 (charge, refuse), lsm/file_open (late charge), lsm/file_free_security (uncharge), fexit/security_file_alloc (roll back)",
     "", ""},
    {UBC_NUMIPTENT, "numiptent", Unit::count, Support::enforced, HeldFrom::slot, RefusedAt::limit, "ENOMEM",
     "lsm.s/netlink_send (reserve a batch's new rules, refuse), fentry/nf_tables_rule_notify (charge at commit), fexit/nf_tables_commit, fexit/nf_tables_abort (settle), fentry/nf_tables_rule_destroy (uncharge)",
     "", "legacy iptables (xt_tables) entries not counted"},
    {UBC_SWAPPAGES, "swappages", Unit::pages, Support::kernel_limit, HeldFrom::memcg, RefusedAt::limit, "-",
     "memcg memory.swap.current, memory.swap.peak, memory.swap.events max; limit -> memory.swap.max",
     "memory.swap.max", "enforced by the kernel's memcg, not by ubc"},
}};
// clang-format on

constexpr bool table_is_indexed_by_id() {
  for (std::size_t i = 0; i < kTable.size(); ++i)
    if (kTable[i].id != static_cast<ubc_resource>(i)) return false;
  return true;
}
static_assert(table_is_indexed_by_id(), "kTable rows must follow enum ubc_resource");

}  // namespace

std::span<const ResourceInfo> resource_table() noexcept {
  return kTable;
}

const ResourceInfo* find_resource(std::string_view name) noexcept {
  for (const auto& row : kTable)
    if (row.name == name) return &row;
  return nullptr;
}

const ResourceInfo& resource_info(ubc_resource id) noexcept {
  return kTable[id];
}

std::string_view support_name(Support support) noexcept {
  switch (support) {
    case Support::enforced:
      return "enforced";
    case Support::kernel_limit:
      return "kernel-limit";
    case Support::accounted:
      return "accounted";
  }
  return "?";
}

std::string_view unit_name(Unit unit) noexcept {
  switch (unit) {
    case Unit::count:
      return "count";
    case Unit::pages:
      return "pages";
    case Unit::bytes:
      return "bytes";
  }
  return "?";
}

}  // namespace ubc
