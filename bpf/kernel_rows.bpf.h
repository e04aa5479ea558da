/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The rows the kernel keeps for a CT, read in one pass over the host when user space reads
 * the beancounters, instead of opening seven memcg files and every process's
 * /proc/PID/status per CT:
 *
 * ubc_iter_memcg (iter.s/cgroup, every cgroup on the host): for each CT cgroup, its memcg
 *   figures through the memcg kfuncs (Linux 6.19+): physpages (memory.current, .peak,
 *   .events max), swappages (memory.swap.*), kmemsize, dcachesize, oomguarpages and the
 *   shared memory shmpages adds. A kernel without the kfuncs gets no record, and user space
 *   reads the memcg files instead.
 * ubc_iter_task_mm (iter/task, every task): for each process in a CT, the mm counters
 *   /proc/PID/status shows (VmLck, VmData + VmStk) for lockedpages, privvmpages and
 *   vmguarpages, and the network namespace it is in, where user space reads the CT's sockets.
 */
#ifndef UBC_KERNEL_ROWS_BPF_H
#define UBC_KERNEL_ROWS_BPF_H

#include "charge.bpf.h"

/* The kernel's page size, set by the loader: memory.stat's figures are in bytes. */
const volatile __u64 ubc_page_size = 4096;

extern struct mem_cgroup *bpf_get_mem_cgroup(struct cgroup_subsys_state *css) __weak __ksym;
extern void bpf_put_mem_cgroup(struct mem_cgroup *memcg) __weak __ksym;
extern void bpf_mem_cgroup_flush_stats(struct mem_cgroup *memcg) __weak __ksym;
extern unsigned long bpf_mem_cgroup_usage(struct mem_cgroup *memcg) __weak __ksym;
extern unsigned long bpf_mem_cgroup_memory_events(struct mem_cgroup *memcg,
						  enum memcg_memory_event event) __weak __ksym;
extern unsigned long bpf_mem_cgroup_page_state(struct mem_cgroup *memcg, int idx) __weak __ksym;

static __always_inline void ubc_emit(struct seq_file *seq, const struct ubc_ct_ref *ct,
				     enum ubc_iter_kind kind, enum ubc_resource resource,
				     __u64 held, __u64 maxheld, __u64 failcnt)
{
	struct ubc_iter_record record = {
		.slot = ct->slot,
		.kind = kind,
		.resource = resource,
		.generation = ct->generation,
		.held = held,
		.maxheld = maxheld,
		.failcnt = failcnt,
	};

	bpf_seq_write(seq, &record, sizeof(record));
}

/* memory.stat's figure for `item`, in bytes (pages for items kept in pages are converted by
 * the kernel); 0 for one this kernel does not keep. */
static __always_inline __u64 ubc_memcg_stat(struct mem_cgroup *memcg, int item)
{
	unsigned long value = bpf_mem_cgroup_page_state(memcg, item);

	return value == (unsigned long)-1 ? 0 : value;
}

static __always_inline __u64 ubc_memcg_event(struct mem_cgroup *memcg, enum memcg_memory_event event)
{
	unsigned long value = bpf_mem_cgroup_memory_events(memcg, event);

	return value == (unsigned long)-1 ? 0 : value;
}

SEC("iter.s/cgroup")
int ubc_iter_memcg(struct bpf_iter__cgroup *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct cgroup *cgrp = ctx->cgroup;
	struct mem_cgroup *memcg;
	struct ubc_ct_ref ct;
	__u64 page, swap, anon, unevictable;

	if (!cgrp || !bpf_ksym_exists(bpf_get_mem_cgroup) ||
	    !ubc_ct_of_cgroup_id(BPF_CORE_READ(cgrp, kn, id), &ct))
		return 0;
	memcg = bpf_get_mem_cgroup(&cgrp->self);
	if (!memcg)
		return 0;
	/* As memory.stat does: fold the per-CPU deltas in if they are many. */
	bpf_mem_cgroup_flush_stats(memcg);
	page = ubc_page_size ?: 4096;
	swap = BPF_CORE_READ(memcg, swap.usage.counter);
	ubc_emit(seq, &ct, UBC_ITER_ROW, UBC_PHYSPAGES, BPF_CORE_READ(memcg, memory.usage.counter),
		 BPF_CORE_READ(memcg, memory.watermark), ubc_memcg_event(memcg, MEMCG_MAX));
	ubc_emit(seq, &ct, UBC_ITER_ROW, UBC_SWAPPAGES, swap, BPF_CORE_READ(memcg, swap.watermark),
		 ubc_memcg_event(memcg, MEMCG_SWAP_MAX));
	ubc_emit(seq, &ct, UBC_ITER_ROW, UBC_KMEMSIZE, ubc_memcg_stat(memcg, MEMCG_KMEM), 0, 0);
	ubc_emit(seq, &ct, UBC_ITER_ROW, UBC_DCACHESIZE, ubc_memcg_stat(memcg, NR_SLAB_RECLAIMABLE_B),
		 0, 0);
	anon = ubc_memcg_stat(memcg, NR_ANON_MAPPED);
	unevictable = ubc_memcg_stat(memcg, NR_UNEVICTABLE);
	ubc_emit(seq, &ct, UBC_ITER_ROW, UBC_OOMGUARPAGES, (anon + unevictable) / page + swap, 0, 0);
	ubc_emit(seq, &ct, UBC_ITER_MEMCG_SHMEM, 0, ubc_memcg_stat(memcg, NR_SHMEM) / page, 0, 0);
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
		ubc_emit(ctx->meta->seq, &ct, UBC_ITER_ROW, UBC_LOCKEDPAGES,
			 BPF_CORE_READ(mm, locked_vm), 0, 0);
		ubc_emit(ctx->meta->seq, &ct, UBC_ITER_ROW, UBC_PRIVVMPAGES, private_pages, 0, 0);
		ubc_emit(ctx->meta->seq, &ct, UBC_ITER_ROW, UBC_VMGUARPAGES, private_pages, 0, 0);
	}
	ubc_emit(ctx->meta->seq, &ct, UBC_ITER_NETWORK, 0,
		 BPF_CORE_READ(task, nsproxy, net_ns, ns.inum), task->tgid, 0);
	return 0;
}

#endif /* UBC_KERNEL_ROWS_BPF_H */
