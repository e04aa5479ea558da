/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The CPU scheduler's map layouts (bpf/ubc_sched.bpf.c), shared with user space
 * (loader/scheduler.cpp). The scheduler keeps one record per CT slot, indexed like the
 * engine's `ubc_cts` (maps/ubc_maps.h); slot 0, never a CT there, is the host group: every
 * task outside all CTs.
 *
 * The policy itself (weight, quota) is not written here by user space: ubc writes a CT's
 * cgroup files cpu.weight and cpu.max, and the kernel hands them to the scheduler's cgroup
 * callbacks. Only the host group's weight, which has no cgroup, is stored by user space.
 */
#ifndef UBC_SCHED_MAPS_H
#define UBC_SCHED_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define UBC_SCHED_HOST_SLOT 0
/* Dispatch queue of slot N: UBC_SCHED_DSQ_BASE + N (user DSQ ids only need bit 63 clear). */
#define UBC_SCHED_DSQ_BASE 0x10000ULL
/* CPUs the scheduler tracks what runs on (more are scheduled, without wake-up preemption). */
#define UBC_SCHED_MAX_CPUS 4096
/* cgroup v2 cpu.weight's default and range. */
#define UBC_SCHED_DEFAULT_WEIGHT 100
#define UBC_SCHED_MAX_WEIGHT 10000
/* "max" in cpu.max. */
#define UBC_SCHED_NO_QUOTA (~0ULL)
#define UBC_SCHED_DEFAULT_PERIOD_NS (100ULL * 1000 * 1000)
/* A task's time slice; also how far behind the others a waking task or CT may start. */
#define UBC_SCHED_SLICE_NS (5ULL * 1000 * 1000)
/* cgroups whose cpu.weight / cpu.max the scheduler remembers (every cgroup on the host
 * with the cpu controller, CT or not, so that the order of mkdir, cpu.weight and CT
 * registration does not matter). */
#define UBC_SCHED_MAX_CGROUPS 65536

struct ubc_sched_ct {
	/* ubc_cts[slot].generation this record was set up for; a mismatch means the slot
	 * changed hands and the record is reset from the new CT's cgroup policy. */
	__u64 generation;
	/* Level one: CPU time the group used, scaled by 100 / weight. The runnable group
	 * with the smallest vtime runs next. */
	__u64 vtime;
	/* Level two: the largest task vtime started in this group; a waking task starts at
	 * most one slice behind it. */
	__u64 task_vtime_now;
	__u64 quota_ns; /* per period, UBC_SCHED_NO_QUOTA for none (cpulimit) */
	__u64 period_ns;
	__u64 period_start_ns;
	__u64 period_used_ns;
	__u64 runtime_ns;	 /* CPU time charged since the record was set up */
	__u64 throttled_periods; /* periods in which the group ran out of quota */
	__u32 weight;		 /* cpu.weight, 1..10000; 0 means the default (100) */
	/* Tasks in the group's dispatch queue or on their way in: a task inserted from
	 * ops.enqueue reaches the queue only after ops.enqueue returns, so the queue's own
	 * length would tell a CPU a group is empty while a task is about to arrive. */
	__u32 queued;
};

/* What the cgroup callbacks last said about one cgroup (key: its cgroup id). */
struct ubc_sched_cgroup_policy {
	__u32 weight;
	__u32 reserved;
	__u64 quota_ns;
	__u64 period_ns;
};

/* Why the kernel disabled the scheduler, as ops.exit saw it (one entry). */
struct ubc_sched_exit_info {
	__s64 kind; /* enum scx_exit_kind; 0 while the scheduler has not exited */
	__s64 exit_code;
	char reason[128];
	char msg[1024];
};

/* Per-CPU counters of scheduling decisions, for `ubcctl doctor` and the benchmarks. */
enum ubc_sched_stat {
	UBC_SCHED_STAT_DIRECT,		 /* woken task sent straight to an idle CPU */
	UBC_SCHED_STAT_QUEUED,		 /* task queued on its group's dispatch queue */
	UBC_SCHED_STAT_DISPATCH,	 /* dispatch decisions (level-one picks) */
	UBC_SCHED_STAT_GROUPS_READ,	 /* groups those decisions took from the tree or read */
	UBC_SCHED_STAT_AFFINITY_MISS,	 /* best group's queue yielded nothing (taken, affinity) */
	UBC_SCHED_STAT_THROTTLED,	 /* decisions that skipped a group out of quota */
	UBC_SCHED_STAT_PREEMPT,		 /* wake-ups that preempted a task further ahead */
	UBC_SCHED_STAT_WAITS,		 /* tasks that left their group's queue to run */
	UBC_SCHED_STAT_WAIT_NS,		 /* the time those tasks waited in the queue */
	UBC_SCHED_STAT_WAITS_OVER_100MS, /* ... of them that waited 100 ms or more */
	UBC_SCHED_STAT_WAITS_OVER_1S,	 /* ... 1 s or more (the watchdog ejects at 10 s) */
	UBC_SCHED_STAT_LONGEST_WAIT_NS,	 /* the longest of them: per CPU a maximum, not a sum */
	UBC_SCHED_STAT_COUNT,
};

/* Names under the scheduler's bpffs directory (the engine's, suffixed "-sched"). */
#define UBC_SCHED_PIN_LINK "link_ubc_sched_ops"
#define UBC_SCHED_PIN_CTS "ubc_sched_cts"
#define UBC_SCHED_PIN_EXIT "ubc_sched_exit"
#define UBC_SCHED_PIN_STATS "ubc_sched_stats"

#endif /* UBC_SCHED_MAPS_H */
