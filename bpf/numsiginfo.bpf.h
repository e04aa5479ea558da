/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * numsiginfo: queued signal information structures (struct sigqueue) a CT's tasks caused
 * the kernel to allocate, refused for real-time signals past the barrier with EAGAIN, the
 * errno the kernel itself gives a sigqueue() that finds the queue full.
 *
 * Reserve:  lsm/task_kill: a real-time signal (which queues a sigqueue) sent by a CT task
 *           reserves one at the barrier (compare-and-swap, so racing senders never pass it)
 *           or fails with EAGAIN. Standard signals are never refused: the kernel delivers
 *           them without siginfo when it must, and refusing them would lose a signal the
 *           kernel never loses.
 * Charge:   tp_btf/kmem_cache_alloc for objects of the sigqueue slab cache (found by its
 *           object size, then its name), in the sending task: it takes the task's
 *           reservation, or charges forced (signals the kernel sends on the task's behalf,
 *           standard signals). The allocator inlines __sigqueue_alloc, so the slab
 *           tracepoint is the one exact point.
 * Settle:   fexit/do_send_sig_info (every kill path ends there) hands back a reservation
 *           the signal did not use (ignored signal, target gone); so do the next send and
 *           the task's exit, should the kernel skip that fexit.
 * Uncharge: tp_btf/kmem_cache_free of a recorded object, from any context.
 */
#ifndef UBC_NUMSIGINFO_BPF_H
#define UBC_NUMSIGINFO_BPF_H

#include "charge.bpf.h"

#define UBC_SIGRTMIN 32

/* struct sigqueue pointer -> the CT charged for it. */
UBC_OWNER_MAP(ubc_siginfo_owner, UBC_MAX_TRACKED_SIGINFO);

struct ubc_siginfo_task {
	struct ubc_charge_owner reservation; /* amount 1 while one is held */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ubc_siginfo_task);
} ubc_siginfo_task SEC(".maps");

/* The sigqueue cache, once recognised; every other cache costs one comparison. */
static struct kmem_cache *ubc_sigqueue_cache;

static __always_inline bool ubc_is_sigqueue_cache(struct kmem_cache *cache)
{
	static const char name[] = "sigqueue";
	char seen[sizeof(name)];

	if (cache == ubc_sigqueue_cache)
		return true;
	if (ubc_sigqueue_cache ||
	    BPF_CORE_READ(cache, object_size) != bpf_core_type_size(struct sigqueue))
		return false;
	if (bpf_probe_read_kernel_str(seen, sizeof(seen), BPF_CORE_READ(cache, name)) !=
	    sizeof(seen))
		return false;
	for (int i = 0; i < sizeof(name); i++)
		if (seen[i] != name[i])
			return false;
	ubc_sigqueue_cache = cache;
	return true;
}

static __always_inline struct ubc_siginfo_task *ubc_siginfo_task_of(struct task_struct *task,
								    __u64 flags)
{
	return bpf_task_storage_get(&ubc_siginfo_task, task, 0, flags);
}

SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(ubc_numsiginfo_charge, unsigned long call_site, const void *object,
	     struct kmem_cache *cache, gfp_t flags, int node)
{
	struct ubc_siginfo_task *task;
	struct ubc_charge_owner owner;

	if (!object || !ubc_is_sigqueue_cache(cache))
		return 0;
	task = ubc_siginfo_task_of(bpf_get_current_task_btf(), 0);
	if (ubc_take_reserved(task ? &task->reservation : NULL, UBC_NUMSIGINFO, &owner))
		ubc_record_owner(&ubc_siginfo_owner, (__u64)object, &owner, UBC_NUMSIGINFO);
	return 0;
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(ubc_numsiginfo_uncharge, unsigned long call_site, const void *object,
	     const struct kmem_cache *cache)
{
	if (cache == ubc_sigqueue_cache && object)
		ubc_uncharge_owned(&ubc_siginfo_owner, (__u64)object, UBC_NUMSIGINFO);
	return 0;
}

SEC("lsm/task_kill")
int BPF_PROG(ubc_numsiginfo_reserve, struct task_struct *target, struct kernel_siginfo *info,
	     int sig, const struct cred *cred, int ret)
{
	struct ubc_siginfo_task *task;
	struct ubc_ct_ref ct;

	if (ret || sig < UBC_SIGRTMIN || !ubc_current_ct(&ct))
		return ret;
	task = ubc_siginfo_task_of(bpf_get_current_task_btf(), BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!task)
		return ret;
	return ubc_reserve(&task->reservation, &ct, UBC_NUMSIGINFO, 1, UBC_HARD) ? -EAGAIN : 0;
}

SEC("fexit/do_send_sig_info")
int BPF_PROG(ubc_numsiginfo_settle)
{
	struct ubc_siginfo_task *task = ubc_siginfo_task_of(bpf_get_current_task_btf(), 0);

	if (task)
		ubc_release(&task->reservation, UBC_NUMSIGINFO);
	return 0;
}

SEC("lsm/task_free")
int BPF_PROG(ubc_numsiginfo_task_free, struct task_struct *task)
{
	struct ubc_siginfo_task *state = ubc_siginfo_task_of(task, 0);

	if (state)
		ubc_release(&state->reservation, UBC_NUMSIGINFO);
	return 0;
}

#endif /* UBC_NUMSIGINFO_BPF_H */
