/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * numproc: tasks (processes and threads) in a CT. OpenVZ charged every fork and clone to
 * the parent's beancounter and refused past the barrier with ENOMEM; a task that entered
 * a VE was charged to it. ubc does the same, and keeps held equal to the CT's tasks:
 *
 * Charge:   lsm/task_alloc runs for every new task in the parent's context, before the
 *           child exists for anybody: the parent's CT is charged (hard, ENOMEM). LSM
 *           programs are never skipped by the kernel's recursion guard.
 * Move:     a task that migrates between cgroups (cgroup.procs, ubcctl exec) is moved to
 *           its new CT, or to none, by tp_btf/cgroup_attach_task, every thread of a process
 *           that moves whole; a task cloned straight
 *           into another cgroup (clone3 CLONE_INTO_CGROUP) by fentry/cgroup_post_fork.
 *           Moving in is forced, never refused: the kernel offers no way to refuse a
 *           migration from there, and OpenVZ did not refuse entering a VE either.
 * Uncharge: lsm/task_free, when the task_struct is freed (after the task was reaped),
 *           from whatever context: the owner recorded in the task's storage says whom.
 * A task that existed before the engine loaded has no owner and is never uncharged.
 */
#ifndef UBC_NUMPROC_BPF_H
#define UBC_NUMPROC_BPF_H

#include "charge.bpf.h"

#define UBC_CLONE_INTO_CGROUP 0x200000000ULL

/* task -> the CT its numproc charge went to. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ubc_charge_owner);
} ubc_task_owner SEC(".maps");

static __always_inline bool ubc_same_ct(const struct ubc_charge_owner *owner,
					const struct ubc_ct_ref *ct)
{
	return owner->slot == ct->slot && owner->generation == ct->generation;
}

/* Makes `task`'s charge follow its cgroup membership: uncharge the old CT, force-charge the new. */
static __always_inline void ubc_numproc_follow(struct task_struct *task)
{
	struct ubc_charge_owner *owner;
	struct ubc_ct_ref ct;
	bool in_ct = ubc_ct_of_task(task, &ct);

	owner = bpf_task_storage_get(&ubc_task_owner, task, 0,
				     in_ct ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (!owner)
		return;
	if (owner->amount && in_ct && ubc_same_ct(owner, &ct))
		return;
	ubc_release(owner, UBC_NUMPROC);
	if (!in_ct)
		return;
	ubc_charge(ct.ct, UBC_NUMPROC, 1, UBC_FORCE);
	*owner = ubc_owner(&ct, 1);
}

SEC("lsm/task_alloc")
int BPF_PROG(ubc_numproc_charge, struct task_struct *task, __u64 clone_flags, int ret)
{
	struct ubc_charge_owner *owner;
	struct ubc_ct_ref ct;

	if (ret || !ubc_current_ct(&ct))
		return ret;
	if (ubc_charge(ct.ct, UBC_NUMPROC, 1, UBC_HARD))
		return -ENOMEM;
	owner = bpf_task_storage_get(&ubc_task_owner, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!owner) {
		struct ubc_charge_owner untracked = ubc_owner(&ct, 1);

		ubc_uncharge(&untracked, UBC_NUMPROC);
		ubc_stat_inc(UBC_STAT_OWNER_MAP_FULL);
		return -ENOMEM;
	}
	*owner = ubc_owner(&ct, 1);
	return 0;
}

/* bpf_iter_task_new's flags (include/linux/bpf.h): the threads of one process. */
#define UBC_TASK_ITER_PROC_THREADS 2

/* The tracepoint fires once per migration, with the leader when a whole process moved
 * (cgroup.procs): every thread of it moves, and each is a task of numproc. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(ubc_numproc_migrate, struct cgroup *dst_cgrp, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	struct task_struct *leader, *thread;

	if (!threadgroup) {
		ubc_numproc_follow(task);
		return 0;
	}
	leader = bpf_task_from_pid(task->tgid);
	if (!leader) {
		ubc_numproc_follow(task);
		return 0;
	}
	bpf_for_each(task, thread, leader, UBC_TASK_ITER_PROC_THREADS) ubc_numproc_follow(thread);
	bpf_task_release(leader);
	return 0;
}

SEC("fentry/cgroup_post_fork")
int BPF_PROG(ubc_numproc_clone_into, struct task_struct *child, struct kernel_clone_args *kargs)
{
	if (kargs->flags & UBC_CLONE_INTO_CGROUP)
		ubc_numproc_follow(child);
	return 0;
}

SEC("lsm/task_free")
int BPF_PROG(ubc_numproc_uncharge, struct task_struct *task)
{
	struct ubc_charge_owner *owner = bpf_task_storage_get(&ubc_task_owner, task, 0, 0);

	if (owner)
		ubc_release(owner, UBC_NUMPROC);
	return 0;
}

#endif /* UBC_NUMPROC_BPF_H */
