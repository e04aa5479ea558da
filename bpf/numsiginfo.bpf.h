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
 * Charge:   fexit/__send_signal_locked, in the sending task, with the target's siglock held:
 *           the one place the kernel queues a sigqueue it allocated (it inlines
 *           __sigqueue_alloc). fentry notes the tail of the queue the signal goes to, and a
 *           new tail at fexit is the new sigqueue. It takes the task's reservation, or
 *           charges forced (signals the kernel sends on the task's behalf, standard
 *           signals). No slab tracepoint: those ran for every allocation on the host.
 * Settle:   fexit/do_send_sig_info (every kill path ends there) hands back a reservation
 *           the signal did not use (ignored signal, target gone); so do the next send and
 *           the task's exit, should the kernel skip that fexit.
 * Uncharge: fentry/__sigqueue_free of a recorded sigqueue, from any context: every path
 *           that frees a queued signal (delivery, signalfd, exit, flushes on SIG_IGN,
 *           SIGCONT and stops) calls it. Posix timers' sigqueues live in their timers and
 *           are never recorded.
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

/* The tail of the queue a signal being sent goes to, as fentry saw it, per CPU: the target's
 * siglock is held from fentry to fexit, with interrupts off, so nothing else runs between. */
struct ubc_siginfo_send {
	__u64 queue;
	__u64 tail;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ubc_siginfo_send);
} ubc_siginfo_send SEC(".maps");

/* The list a signal of `type` sent to `t` is queued on: the thread's own or its process's. */
static __always_inline struct list_head *ubc_signal_queue(struct task_struct *t, enum pid_type type)
{
	return type != PIDTYPE_PID ? &t->signal->shared_pending.list : &t->pending.list;
}

static __always_inline struct ubc_siginfo_task *ubc_siginfo_task_of(struct task_struct *task,
								    __u64 flags)
{
	return bpf_task_storage_get(&ubc_siginfo_task, task, 0, flags);
}

SEC("fentry/__send_signal_locked")
int BPF_PROG(ubc_numsiginfo_note_queue, int sig, struct kernel_siginfo *info, struct task_struct *t,
	     enum pid_type type)
{
	struct ubc_siginfo_send *send;
	struct list_head *queue;
	__u32 zero = 0;

	send = bpf_map_lookup_elem(&ubc_siginfo_send, &zero);
	if (!send)
		return 0;
	queue = ubc_signal_queue(t, type);
	send->queue = (__u64)queue;
	send->tail = (__u64)queue->prev;
	return 0;
}

SEC("fexit/__send_signal_locked")
int BPF_PROG(ubc_numsiginfo_charge, int sig, struct kernel_siginfo *info, struct task_struct *t,
	     enum pid_type type, bool force, int ret)
{
	struct ubc_siginfo_task *task;
	struct ubc_siginfo_send *send;
	struct ubc_charge_owner owner;
	struct list_head *queue;
	__u32 zero = 0;
	__u64 tail;

	send = bpf_map_lookup_elem(&ubc_siginfo_send, &zero);
	queue = ubc_signal_queue(t, type);
	if (!send || send->queue != (__u64)queue)
		return 0;
	send->queue = 0;
	tail = (__u64)queue->prev;
	if (tail == send->tail || tail == (__u64)queue)
		return 0; /* nothing queued: ignored, already pending, or sent without siginfo */
	task = ubc_siginfo_task_of(bpf_get_current_task_btf(), 0);
	/* A sigqueue's list is its first member: the tail entry is the sigqueue. */
	tail -= bpf_core_field_offset(struct sigqueue, list);
	if (ubc_take_reserved(task ? &task->reservation : NULL, UBC_NUMSIGINFO, &owner))
		ubc_record_owner(&ubc_siginfo_owner, tail, &owner, UBC_NUMSIGINFO);
	return 0;
}

SEC("fentry/__sigqueue_free")
int BPF_PROG(ubc_numsiginfo_uncharge, struct sigqueue *q)
{
	ubc_uncharge_owned(&ubc_siginfo_owner, (__u64)q, UBC_NUMSIGINFO);
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
