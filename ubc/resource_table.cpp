#include "ubc/resource_table.h"

#include <array>

namespace ubc {
namespace {

// clang-format off
constexpr std::array<ResourceInfo, UBC_RESOURCE_COUNT> kTable{{
    {UBC_KMEMSIZE,     "kmemsize",     Unit::bytes, RefusedAt::never,   0,       Support::accounted,
     "memcg memory.stat `kernel` (slab, stacks, page tables, percpu, sockets, vmalloc)"},
    {UBC_LOCKEDPAGES,  "lockedpages",  Unit::pages, RefusedAt::never,   0,       Support::accounted,
     "mm->locked_vm (VmLck in /proc/PID/status) summed over the CT's processes"},
    {UBC_PRIVVMPAGES,  "privvmpages",  Unit::pages, RefusedAt::never,   0,       Support::accounted,
     "mm->data_vm + mm->stack_vm (VmData + VmStk) summed over the CT's processes"},
    {UBC_SHMPAGES,     "shmpages",     Unit::pages, RefusedAt::barrier, ENOMEM,  Support::enforced,
     "SysV: fentry/newseg (size), lsm/shm_alloc_security (charge, refuse), lsm/shm_free_security (uncharge); "
     "others: memcg shmem less resident SysV pages (iter/bpf_map_elem)"},
    {UBC_NUMPROC,      "numproc",      Unit::count, RefusedAt::barrier, ENOMEM,  Support::enforced,
     "lsm/task_alloc (charge, refuse), tp_btf/cgroup_attach_task and fentry/cgroup_post_fork (move), "
     "lsm/task_free (uncharge)"},
    {UBC_PHYSPAGES,    "physpages",    Unit::pages, RefusedAt::limit,   0,       Support::kernel_limit,
     "memcg memory.current, memory.peak, memory.events max; limit -> memory.max"},
    {UBC_VMGUARPAGES,  "vmguarpages",  Unit::pages, RefusedAt::never,   0,       Support::accounted,
     "the privvmpages held it guarantees"},
    {UBC_OOMGUARPAGES, "oomguarpages", Unit::pages, RefusedAt::never,   0,       Support::accounted,
     "memcg memory.stat anon + unevictable, plus memory.swap.current"},
    {UBC_NUMTCPSOCK,   "numtcpsock",   Unit::count, RefusedAt::barrier, ENOBUFS, Support::enforced,
     "lsm/socket_post_create (charge, refuse), lsm/inet_conn_request (refuse SYN), lsm/inet_csk_clone "
     "(charge accepted child), lsm/sk_free_security (uncharge)"},
    {UBC_NUMFLOCK,     "numflock",     Unit::count, RefusedAt::barrier, ENOLCK,  Support::enforced,
     "lsm/file_lock (reserve, refuse), fexit/fcntl_setlk|fcntl_setlease|locks_lock_inode_wait "
     "(charge listed objects), fentry/locks_unlink_lock_ctx (uncharge)"},
    {UBC_NUMPTY,       "numpty",       Unit::count, RefusedAt::barrier, ENOMEM,  Support::enforced,
     "lsm/file_open on char device 5:2 (charge, refuse), lsm/file_free_security (uncharge)"},
    {UBC_NUMSIGINFO,   "numsiginfo",   Unit::count, RefusedAt::barrier, EAGAIN,  Support::enforced,
     "lsm/task_kill (reserve, refuse real-time signals), tp_btf/kmem_cache_alloc of the sigqueue cache "
     "(charge), fexit/do_send_sig_info (settle), tp_btf/kmem_cache_free (uncharge)"},
    {UBC_TCPSNDBUF,    "tcpsndbuf",    Unit::bytes, RefusedAt::never,   0,       Support::accounted,
     "iter/tcp: sk_wmem_queued of the CT's TCP sockets"},
    {UBC_TCPRCVBUF,    "tcprcvbuf",    Unit::bytes, RefusedAt::never,   0,       Support::accounted,
     "iter/tcp: sk_rmem_alloc of the CT's TCP sockets"},
    {UBC_OTHERSOCKBUF, "othersockbuf", Unit::bytes, RefusedAt::never,   0,       Support::accounted,
     "iter/unix, iter/udp: sk_wmem_alloc of the CT's other sockets"},
    {UBC_DGRAMRCVBUF,  "dgramrcvbuf",  Unit::bytes, RefusedAt::never,   0,       Support::accounted,
     "iter/unix, iter/udp: sk_rmem_alloc of the CT's other sockets"},
    {UBC_NUMOTHERSOCK, "numothersock", Unit::count, RefusedAt::barrier, ENOBUFS, Support::enforced,
     "lsm/socket_post_create (charge, refuse), lsm/unix_stream_connect (charge, refuse the server end), "
     "lsm/sk_free_security (uncharge)"},
    {UBC_DCACHESIZE,   "dcachesize",   Unit::bytes, RefusedAt::never,   0,       Support::accounted,
     "memcg memory.stat slab_reclaimable (dentries and inodes, mostly)"},
    {UBC_NUMFILE,      "numfile",      Unit::count, RefusedAt::barrier, ENFILE,  Support::enforced,
     "fmod_ret/security_file_alloc (charge, refuse), lsm/file_free_security (uncharge), "
     "fexit/security_file_alloc (roll back a charge the kernel then failed)"},
    {UBC_NUMIPTENT,    "numiptent",    Unit::count, RefusedAt::limit,   ENOMEM,  Support::enforced,
     "lsm.s/netlink_send (reserve a batch's new rules, refuse), fentry/nf_tables_rule_notify (charge), "
     "fexit/nf_tables_commit|nf_tables_abort (settle), fentry/nf_tables_rule_destroy (uncharge)"},
    {UBC_SWAPPAGES,    "swappages",    Unit::pages, RefusedAt::limit,   0,       Support::kernel_limit,
     "memcg memory.swap.current, memory.swap.peak, memory.swap.events max; limit -> memory.swap.max"},
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
    case Support::planned:
      return "planned";
  }
  return "?";
}

std::string_view known_gap(ubc_resource id) noexcept {
  switch (id) {
    case UBC_KMEMSIZE:
      return "not refused: cgroup v2 has no limit for kernel memory alone";
    case UBC_LOCKEDPAGES:
      return "not refused: no LSM hook on mlock; SysV SHM_LOCK pages not counted";
    case UBC_PRIVVMPAGES:
      return "not refused: the kernel unaccounts address space with no hook";
    case UBC_SHMPAGES:
      return "only new SysV segments refused; tmpfs, POSIX shm, memfd, shared anon bounded by physpages";
    case UBC_PHYSPAGES:
    case UBC_SWAPPAGES:
      return "enforced by the kernel's memcg, not by ubc";
    case UBC_VMGUARPAGES:
      return "the guarantee is not implemented; held is privvmpages'";
    case UBC_OOMGUARPAGES:
      return "OOM protection is not implemented";
    case UBC_NUMTCPSOCK:
      return "accepted connections in flight are charged even past the barrier";
    case UBC_NUMOTHERSOCK:
      return "SCTP peel-off and MPTCP subflows not charged";
    case UBC_NUMSIGINFO:
      return "signals the kernel generates are charged but cannot be refused";
    case UBC_TCPSNDBUF:
    case UBC_TCPRCVBUF:
    case UBC_OTHERSOCKBUF:
    case UBC_DGRAMRCVBUF:
      return "not refused: socket memory scheduling has no hook; read in the CT's netns";
    case UBC_DCACHESIZE:
      return "not refused: no dentry allocation hook; memcg reclaimable slab, not dentries alone";
    case UBC_NUMIPTENT:
      return "legacy iptables (xt_tables) entries not counted";
    default:
      return "";
  }
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
