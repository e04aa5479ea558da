/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The rows the kernel keeps for a CT, read in one pass over the host when user space reads
 * the beancounters, instead of opening seven memcg files and every process's
 * /proc/PID/status per CT:
 *
 * ubc_iter_memcg (iter.s/cgroup, every cgroup on the host): for each CT cgroup, the memcg
 *   figures its memcg files show, through the memcg kfuncs (Linux 6.19+), into ubc_ct_memcg
 *   by slot. A kernel without the kfuncs leaves the map alone, and user space reads the
 *   memcg files instead.
 * ubc_iter_task_mm (iter/task, every task): for each process in a CT, the mm counters
 *   /proc/PID/status shows (VmLck, VmData + VmStk) for lockedpages, privvmpages and
 *   vmguarpages, and the network namespace it is in, where user space reads the CT's sockets.
 */
#ifndef UBC_KERNEL_ROWS_BPF_H
#define UBC_KERNEL_ROWS_BPF_H

#include "charge.bpf.h"
#include "iter_records.bpf.h"

/* The memcg kfuncs are declared (weak) in vmlinux.h. */

/* The latest memcg figures of each CT, by slot (maps/ubc_maps.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, UBC_MAX_CTS);
	__type(key, __u32);
	__type(value, struct ubc_memcg_figures);
} ubc_ct_memcg SEC(".maps");

static __always_inline __u64 ubc_memcg_stat(struct mem_cgroup *memcg, int item)
{
	unsigned long value = bpf_mem_cgroup_page_state(memcg, item);

	return value == (unsigned long)-1 ? 0 : value; /* not kept by this kernel */
}

static __always_inline __u64 ubc_memcg_event(struct mem_cgroup *memcg,
					     enum memcg_memory_event event)
{
	unsigned long value = bpf_mem_cgroup_memory_events(memcg, event);

	return value == (unsigned long)-1 ? 0 : value;
}

SEC("iter.s/cgroup")
int ubc_iter_memcg(struct bpf_iter__cgroup *ctx)
{
	struct cgroup *cgrp = ctx->cgroup;
	struct ubc_memcg_figures *figures;
	struct mem_cgroup *memcg;
	struct ubc_ct_ref ct;

	if (!cgrp || !bpf_ksym_exists(bpf_get_mem_cgroup) ||
	    !ubc_ct_of_cgroup_id(BPF_CORE_READ(cgrp, kn, id), &ct))
		return 0;
	figures = bpf_map_lookup_elem(&ubc_ct_memcg, &ct.slot);
	if (!figures)
		return 0;
	memcg = bpf_get_mem_cgroup(&cgrp->self);
	if (!memcg)
		return 0;
	/* As memory.stat does: fold the per-CPU deltas in when they are many. */
	bpf_mem_cgroup_flush_stats(memcg);
	figures->generation = ct.generation;
	figures->memory_pages = BPF_CORE_READ(memcg, memory.usage.counter);
	figures->memory_peak_pages = BPF_CORE_READ(memcg, memory.watermark);
	figures->memory_max_events = ubc_memcg_event(memcg, MEMCG_MAX);
	figures->swap_pages = BPF_CORE_READ(memcg, swap.usage.counter);
	figures->swap_peak_pages = BPF_CORE_READ(memcg, swap.watermark);
	figures->swap_max_events = ubc_memcg_event(memcg, MEMCG_SWAP_MAX);
	figures->kernel_bytes = ubc_memcg_stat(memcg, MEMCG_KMEM);
	figures->slab_reclaimable_bytes = ubc_memcg_stat(memcg, NR_SLAB_RECLAIMABLE_B);
	figures->anon_bytes = ubc_memcg_stat(memcg, NR_ANON_MAPPED);
	figures->unevictable_bytes = ubc_memcg_stat(memcg, NR_UNEVICTABLE);
	figures->shmem_bytes = ubc_memcg_stat(memcg, NR_SHMEM);
	/* Last. Each figure is a reading of its own; a reader racing with this one may mix
	 * two readings microseconds apart, never a stale one with this time. */
	barrier();
	WRITE_ONCE(figures->read_at_ns, bpf_ktime_get_ns());
	bpf_put_mem_cgroup(memcg);
	return 0;
}

SEC("iter/task")
int ubc_iter_task_mm(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct ubc_ct_ref ct;
	struct mm_struct *mm;
	__u64 private_pages;

	/* Threads share their process's mm: one record per process, from its leader. */
	if (!task || task->pid != task->tgid || !ubc_ct_of_task(task, &ct))
		return 0;
	mm = task->mm;
	if (mm) {
		private_pages = BPF_CORE_READ(mm, data_vm) + BPF_CORE_READ(mm, stack_vm);
		ubc_iter_write(ctx->meta->seq, ct.slot, ct.generation, UBC_ITER_ROW,
			       UBC_LOCKEDPAGES, BPF_CORE_READ(mm, locked_vm), 0);
		ubc_iter_write(ctx->meta->seq, ct.slot, ct.generation, UBC_ITER_ROW,
			       UBC_PRIVVMPAGES, private_pages, 0);
		ubc_iter_write(ctx->meta->seq, ct.slot, ct.generation, UBC_ITER_ROW,
			       UBC_VMGUARPAGES, private_pages, 0);
	}
	ubc_iter_write(ctx->meta->seq, ct.slot, ct.generation, UBC_ITER_NETWORK, 0,
		       BPF_CORE_READ(task, nsproxy, net_ns, ns.inum), task->tgid);
	return 0;
}

#endif /* UBC_KERNEL_ROWS_BPF_H */
