/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ubc's CPU scheduler: OpenVZ's two-level fair share on sched_ext.
 *
 * Design
 * ------
 * Every task belongs to one group: the CT whose cgroup is its outermost CT ancestor (the
 * engine's registry, `ubc_ct_index`, reused from its pins), the CT whose host helpers its
 * cgroup holds (`ubc_helper_cgroups`: a CT's /proc view server and console keeper spend
 * the CT's CPU time), or the host group (slot 0) for other tasks outside all CTs. Each
 * group has one dispatch queue (DSQ) ordered by task vtime.
 *
 * - Level one (groups, by cpuunits): a group's vtime grows by the CPU time its tasks use
 *   times 100 / its cpu.weight. The groups with queued tasks wait in a BPF rbtree ordered
 *   by vtime (sched_group_tree.bpf.h); a CPU that needs work takes the first one and runs
 *   the head of its queue. A group that was idle re-enters at most one slice behind the
 *   others: sleeping earns no credit.
 * - Level two (tasks in a group, by nice): a task's vtime grows by its CPU time times
 *   100 / its weight (the kernel's nice table scaled to 100), so a group's DSQ hands out
 *   time in the kernel's nice ratios.
 * - A task whose slice ends while still runnable is in no queue, so the dispatch that
 *   follows compares it with the scan's pick at both levels and lets it run on when it is
 *   still the most behind: otherwise two tasks sharing a CPU would simply take turns.
 * - cpulimit (cpu.max): a group's quota per period is charged at every tick and at every
 *   stop; a group past its quota leaves the vtime tree for a tree of throttled groups keyed
 *   by the start of its next period, its running task is preempted at the next tick, and a
 *   timer kicks idle CPUs when that period starts. Overshoot in one period is repaid from
 *   the next, so the long-run cap is exact to the tick.
 * - cpus (cpuset.cpus): the kernel narrows the tasks' affinity; a group whose queued tasks
 *   may not run on this CPU is set aside and the next one is tried (up to 3, then a scan of
 *   every group).
 * - Wake-up preemption: a woken task that finds no idle CPU preempts the task on its CPU
 *   when that one's group has used more weighted time (or, in the same group, the task
 *   is a slice ahead), so a latency-sensitive task does not wait for a busy CT's slice.
 * - Work conserving: a waking task goes straight to an idle CPU when its group is within
 *   quota, and a CPU only idles when every group with queued work is out of quota or
 *   cannot run there.
 *
 * The policy arrives through the cgroup callbacks (cpu.weight, cpu.max written by ubc or
 * anyone), so loading or ejecting the scheduler never loses a setting: the kernel's fair
 * class reads the same files.
 *
 * Cost per decision: enqueue (wake-up preemption included) is O(1) plus one rbtree insert
 * (O(log n) under one spin lock) once a task's group is cached (an ancestor walk of at most
 * UBC_MAX_CGROUP_DEPTH hash lookups when its cgroup changes); a level-one pick is one rbtree
 * removal and one insert, plus one more of each for a group whose key went stale or that ran
 * out of quota. The benchmark prints the groups read per decision (1.4-2.0, with 1 or
 * 100 busy CTs).
 *
 * Limits
 * ------
 * - The tree has one lock for all CPUs: fine at a few CPUs, a contention point at many
 *   (per-LLC trees would shard it).
 * - A CPU that none of the first 3 groups' tasks may run on (cpus, affinity) scans every
 *   group in use, as before the tree.
 * - Level one is flat: CTs nested inside CTs are one group, as in OpenVZ.
 * - Quota is tracked host-wide per group, charged at ticks: a group can overrun its quota
 *   by one tick per CPU it runs on, repaid in the next period.
 */
#include "scx.bpf.h"
#include "ubc_ct_maps.bpf.h"
#include "ubc_sched_maps.h"
#include "sched_group_tree.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define CLOCK_MONOTONIC 1
#define UBC_PF_KTHREAD 0x00200000 /* PF_KTHREAD: a macro, so not in vmlinux.h */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, UBC_MAX_CTS);
	__type(key, __u32);
	__type(value, struct ubc_sched_ct);
} ubc_sched_cts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, UBC_SCHED_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct ubc_sched_cgroup_policy);
} ubc_sched_cgroup_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ubc_sched_exit_info);
} ubc_sched_exit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UBC_SCHED_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} ubc_sched_stats SEC(".maps");

/* Which group a task was last found in, and when its running time was last charged. */
struct task_ctx {
	__u64 cgroup_id; /* the task's own cgroup when `slot` was found; 0 = look again */
	/* ubc_cts[slot].generation then; for the host group, the registry's epoch then */
	__u64 generation;
	__u64 charged_at; /* scx_bpf_now() of the last charge while running; 0 = not running */
	__u32 slot;
	__u32 charged_slot; /* the group charged while it runs (stable across a cgroup move) */
	__u32 queued_slot;  /* the group whose `queued` counts this task, UBC_MAX_CTS if none */
	__u32 reserved;
	__u64 queued_at; /* scx_bpf_now() when counted into `queued_slot`, for the wait stats */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/* What each CPU runs, for wake-up preemption: slot UBC_MAX_CTS when nothing of ours. */
struct cpu_running {
	__u32 slot;
	__u32 reserved;
	__u64 task_vtime;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UBC_SCHED_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct cpu_running);
} running_on SEC(".maps");

struct unthrottle_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unthrottle_timer);
} unthrottle_timers SEC(".maps");

/* The largest group vtime picked so far: where an idle group re-enters. */
static __u64 global_vtime;
/* Highest slot that ever had a task: the level-one scan stops there. */
static __u32 highest_slot;
/* When the unthrottle timer fires next (scx_bpf_now() time), 0 when not armed. */
static __u64 timer_deadline;

static __always_inline void stat_add(enum ubc_sched_stat stat, __u64 amount)
{
	__u32 key = stat;
	__u64 *value = bpf_map_lookup_elem(&ubc_sched_stats, &key);

	if (value)
		*value += amount; /* per-CPU: no other writer */
}

static __always_inline __u64 group_dsq(__u32 slot)
{
	return UBC_SCHED_DSQ_BASE + slot;
}

static __always_inline struct ubc_sched_ct *group_of_slot(__u32 slot)
{
	return bpf_map_lookup_elem(&ubc_sched_cts, &slot);
}

static __always_inline __u32 group_weight(struct ubc_sched_ct *group)
{
	__u32 weight = READ_ONCE(group->weight);

	return weight ? weight : UBC_SCHED_DEFAULT_WEIGHT;
}

/* A zeroed record (the host group before anyone set it) has no quota either. */
static __always_inline bool has_quota(struct ubc_sched_ct *group)
{
	__u64 quota = READ_ONCE(group->quota_ns);

	return quota && quota != UBC_SCHED_NO_QUOTA;
}

static __always_inline __u64 quota_from_us(__u64 quota_us)
{
	/* cpu.max "max" arrives as ~0 (or anything too large to mean a real quota). */
	if (quota_us >= UBC_SCHED_NO_QUOTA / 1000)
		return UBC_SCHED_NO_QUOTA;
	return quota_us * 1000;
}

/* Resets a group record for the CT that now holds its slot, from what the cgroup
 * callbacks said about that CT's cgroup (defaults if they said nothing yet). */
static void reset_group(struct ubc_sched_ct *group, __u64 cgroup_id, __u64 generation)
{
	struct ubc_sched_cgroup_policy *policy =
		bpf_map_lookup_elem(&ubc_sched_cgroup_policy, &cgroup_id);

	WRITE_ONCE(group->weight, policy ? policy->weight : UBC_SCHED_DEFAULT_WEIGHT);
	WRITE_ONCE(group->quota_ns, policy ? policy->quota_ns : UBC_SCHED_NO_QUOTA);
	WRITE_ONCE(group->period_ns, policy ? policy->period_ns : UBC_SCHED_DEFAULT_PERIOD_NS);
	WRITE_ONCE(group->period_start_ns, 0);
	WRITE_ONCE(group->period_used_ns, 0);
	WRITE_ONCE(group->vtime, READ_ONCE(global_vtime));
	WRITE_ONCE(group->task_vtime_now, 0);
	WRITE_ONCE(group->runtime_ns, 0);
	WRITE_ONCE(group->throttled_periods, 0);
	WRITE_ONCE(group->generation, generation);
}

/* The group record of a CT slot, set up for the CT that holds the slot now. */
static struct ubc_sched_ct *ct_group(__u32 slot, __u64 cgroup_id, __u64 generation)
{
	struct ubc_sched_ct *group = group_of_slot(slot);

	if (group && READ_ONCE(group->generation) != generation)
		reset_group(group, cgroup_id, generation);
	return group;
}

static __always_inline struct cgroup *task_dfl_cgroup(struct task_struct *p)
{
	return BPF_CORE_READ(p, cgroups, dfl_cgrp);
}

/* The CT whose helpers (its /proc view's server, its console keeper) run in cgroup
 * `cgroup_id`: their CPU time is the CT's (ubc_helper_cgroups). */
static __always_inline bool ct_of_helper_cgroup(__u64 cgroup_id, struct ubc_ct_ref *ct)
{
	__u64 *ct_cgroup_id = bpf_map_lookup_elem(&ubc_helper_cgroups, &cgroup_id);

	return ct_cgroup_id && ubc_ct_of_cgroup_id(*ct_cgroup_id, ct);
}

/* Set by the loader when it shares the engine's registry epoch (an engine pinned before
 * the epoch existed has none): only then can a host task's answer be cached. */
const volatile bool registry_epoch_shared;

/* The registry's epoch now, or ~0 when it is not shared (never equal to a cached one). */
static __always_inline __u64 registry_epoch(void)
{
	__u32 zero = 0;
	struct ubc_registry *registry = bpf_map_lookup_elem(&ubc_registry, &zero);

	if (!registry_epoch_shared || !registry)
		return ~0ULL;
	return READ_ONCE(registry->epoch);
}

/* The task's group: its outermost CT ancestor, the CT it is a helper of, or the host group.
 * Cached per task; looked up again when the task's cgroup or the CT holding the cached slot
 * changed, or, for the host group, when the registry did (a cgroup that became a CT or a
 * helper cgroup): without that, every host task would walk its ancestors at every event. */
static __u32 task_slot(struct task_struct *p, struct task_ctx *tctx)
{
	struct cgroup *cgrp = task_dfl_cgroup(p);
	__u64 cgroup_id = BPF_CORE_READ(cgrp, kn, id);
	/* Read before the lookups: an answer found after a change is never filed under the
	 * epoch before it. */
	__u64 epoch = registry_epoch();

	if (tctx && tctx->cgroup_id == cgroup_id) {
		__u32 cached = tctx->slot;
		struct ubc_ct *ct;

		if (cached == UBC_SCHED_HOST_SLOT) {
			if (epoch != ~0ULL && tctx->generation == epoch)
				return cached;
		} else {
			ct = bpf_map_lookup_elem(&ubc_cts, &cached);
			if (ct && READ_ONCE(ct->generation) == tctx->generation)
				return cached;
		}
	}

	__u32 slot = UBC_SCHED_HOST_SLOT;
	__u64 generation = epoch;
	struct ubc_ct_ref ct;

	if (ubc_ct_of_cgroup(cgrp, &ct) || ct_of_helper_cgroup(cgroup_id, &ct)) {
		slot = ct.slot;
		generation = ct.generation;
		ct_group(slot, READ_ONCE(ct.ct->cgroup_id), generation);
	}
	if (tctx) {
		tctx->cgroup_id = cgroup_id;
		tctx->slot = slot;
		tctx->generation = generation;
	}
	return slot;
}

static __always_inline struct task_ctx *task_ctx_of(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

/* The context of a task the scheduler runs: ops.init_task gave every one of them one, so a
 * task without is a bug, and the scheduler leaves rather than run it unaccounted. */
static __always_inline struct task_ctx *running_task_ctx(struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx_of(p);

	if (!tctx)
		scx_bpf_error("task %d has no scheduler context", p->pid);
	return tctx;
}

/* Starts a new quota period once the current one is over. Used time beyond the quota is
 * carried into the next period, so a cap is exact over time even though it is charged at
 * tick granularity. */
static void refresh_period(struct ubc_sched_ct *group, __u64 now)
{
	__u64 start = READ_ONCE(group->period_start_ns);
	__u64 period = READ_ONCE(group->period_ns);
	__u64 quota = READ_ONCE(group->quota_ns);

	/* `start` may come from another CPU whose clock runs ahead of this one's (sched
	 * clocks are per CPU): a negative distance is still inside the period. */
	if ((__s64)(now - start) < (__s64)period)
		return;
	/* Periods follow one another on a fixed grid while the group keeps using them: the
	 * CPU that notices a period's end may do so late (an idle CPU woken by the timer, a
	 * tick), and a period started at that moment instead would lose the lateness from
	 * every period (cpulimit 25 delivered 20-23% in the VM). */
	bool on_grid = now - start < 2 * period;
	__u64 next = on_grid ? start + period : now;

	if (__sync_val_compare_and_swap(&group->period_start_ns, start, next) != start)
		return; /* another CPU started it */
	__u64 used = READ_ONCE(group->period_used_ns);
	__u64 repay = used;

	/* One period late at most is carried over; after a longer pause the debt is gone. */
	if (on_grid && used > quota)
		repay = quota;
	__sync_fetch_and_sub(&group->period_used_ns, repay);
}

/* Whether the group has used its quota for this period; if so, `until` is when the next
 * period starts. */
static bool group_throttled(struct ubc_sched_ct *group, __u64 now, __u64 *until)
{
	if (!has_quota(group))
		return false;
	refresh_period(group, now);
	if (READ_ONCE(group->period_used_ns) < READ_ONCE(group->quota_ns))
		return false;
	*until = READ_ONCE(group->period_start_ns) + READ_ONCE(group->period_ns);
	return true;
}

/* Charges a running task's time since its last charge to itself and its group. */
static void charge_running(struct task_struct *p, struct task_ctx *tctx, __u64 now)
{
	__u64 since = tctx->charged_at;
	struct ubc_sched_ct *group;
	__u64 used;

	if (!since || now <= since)
		return;
	used = now - since;
	tctx->charged_at = now;
	scx_bpf_task_set_dsq_vtime(p, p->scx.dsq_vtime + used * UBC_SCHED_DEFAULT_WEIGHT /
								 (p->scx.weight ?: 1));
	group = group_of_slot(tctx->charged_slot);
	if (!group)
		return;
	__sync_fetch_and_add(&group->vtime, used * UBC_SCHED_DEFAULT_WEIGHT / group_weight(group));
	__sync_fetch_and_add(&group->runtime_ns, used);
	if (has_quota(group)) {
		refresh_period(group, now);
		if (__sync_fetch_and_add(&group->period_used_ns, used) <
			    READ_ONCE(group->quota_ns) &&
		    READ_ONCE(group->period_used_ns) >= READ_ONCE(group->quota_ns))
			__sync_fetch_and_add(&group->throttled_periods, 1);
	}
}

/* A task that slept starts at most one slice behind the tasks of its group. */
static __always_inline void clamp_task_vtime(struct task_struct *p, struct ubc_sched_ct *group)
{
	__u64 floor = READ_ONCE(group->task_vtime_now);

	if (floor > UBC_SCHED_SLICE_NS &&
	    vtime_before(p->scx.dsq_vtime, floor - UBC_SCHED_SLICE_NS))
		scx_bpf_task_set_dsq_vtime(p, floor - UBC_SCHED_SLICE_NS);
}

/* A task ahead of its group's queue by more than two slices of its own (weighted) time owes
 * no more than that (two: a slice ends at the tick after it expires). A task gets that far
 * ahead only by running out of vtime order (woken straight onto an idle CPU, kept on a CPU
 * nothing else wanted); were the debt kept, it would wait until every queued task had caught
 * up with it, one short run at a time: 7-12 s waits and the kernel's watchdog with 500
 * hackbench tasks in one CT under --icount. EEVDF limits a task's lag the same way. Level one
 * has no such limit: a group's lead over the group picked last is how cpuunits shares out
 * several CPUs (a one-slice limit there, tried, cut 3000:1000 to 2.5). */
static __always_inline void limit_task_lead(struct task_struct *p, __u32 slot)
{
	struct task_struct *head = scx_bpf_dsq_peek(group_dsq(slot));
	__u64 limit;

	if (!head)
		return;
	limit = head->scx.dsq_vtime +
		2 * UBC_SCHED_SLICE_NS * UBC_SCHED_DEFAULT_WEIGHT / (p->scx.weight ?: 1);
	if (vtime_before(limit, p->scx.dsq_vtime))
		scx_bpf_task_set_dsq_vtime(p, limit);
}

/* A group that had nothing queued re-enters at most one slice behind the others. */
static __always_inline void clamp_group_vtime(struct ubc_sched_ct *group)
{
	__u64 floor = READ_ONCE(global_vtime);
	__u64 vtime = READ_ONCE(group->vtime);

	if (floor > UBC_SCHED_SLICE_NS && vtime_before(vtime, floor - UBC_SCHED_SLICE_NS))
		__sync_val_compare_and_swap(&group->vtime, vtime, floor - UBC_SCHED_SLICE_NS);
}

static int kick_idle_cpus(void *map, int *key, struct bpf_timer *timer)
{
	__u32 cpus = scx_bpf_nr_cpu_ids();
	__u32 cpu;

	WRITE_ONCE(timer_deadline, 0);
	bpf_for(cpu, 0, cpus) scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	return 0;
}

/* Makes sure idle CPUs look for work again when a throttled group's next period starts. */
static void wake_at_unthrottle(__u64 when, __u64 now)
{
	__u64 armed = READ_ONCE(timer_deadline);
	__u32 key = 0;
	struct unthrottle_timer *unthrottle;

	if (armed && armed <= when)
		return;
	if (__sync_val_compare_and_swap(&timer_deadline, armed, when) != armed)
		return;
	unthrottle = bpf_map_lookup_elem(&unthrottle_timers, &key);
	if (unthrottle)
		bpf_timer_start(&unthrottle->timer, when > now ? when - now : 0, 0);
}

/* A group that has queued tasks competes at level one with its vtime of now. */
static __always_inline void arm_group(__u32 slot, struct ubc_sched_ct *group)
{
	group_tree_arm(slot, READ_ONCE(group->vtime));
}

static __always_inline bool group_has_queued(__u32 slot, struct ubc_sched_ct *group)
{
	return READ_ONCE(group->queued) > 0 || scx_bpf_dsq_nr_queued(group_dsq(slot)) > 0;
}

/* The task goes into its group's queue: counted before ops.enqueue returns (and before the
 * group is armed), so that a CPU that pops the group meanwhile does not find it empty. */
static __always_inline void count_queued(struct task_ctx *tctx, __u32 slot,
					 struct ubc_sched_ct *group)
{
	tctx->queued_slot = slot;
	tctx->queued_at = scx_bpf_now();
	__sync_fetch_and_add(&group->queued, 1);
}

/* The task left its group's queue: it runs, or the kernel took it off the runqueue. */
static __always_inline void uncount_queued(struct task_ctx *tctx)
{
	__u32 slot = tctx->queued_slot;
	struct ubc_sched_ct *group;

	if (slot >= UBC_MAX_CTS)
		return;
	tctx->queued_slot = UBC_MAX_CTS;
	group = group_of_slot(slot);
	if (group)
		__sync_fetch_and_sub(&group->queued, 1);
}

/* How long a task waited in its group's queue before it ran: the figure a starving
 * task shows long before the kernel's watchdog ejects the scheduler. */
static __always_inline void note_wait(struct task_ctx *tctx, __u64 now)
{
	__u32 key = UBC_SCHED_STAT_LONGEST_WAIT_NS;
	__u64 *longest, wait;

	if (tctx->queued_slot >= UBC_MAX_CTS || now <= tctx->queued_at)
		return;
	wait = now - tctx->queued_at;
	stat_add(UBC_SCHED_STAT_WAITS, 1);
	stat_add(UBC_SCHED_STAT_WAIT_NS, wait);
	if (wait >= 100ULL * 1000 * 1000)
		stat_add(UBC_SCHED_STAT_WAITS_OVER_100MS, 1);
	if (wait >= 1000ULL * 1000 * 1000)
		stat_add(UBC_SCHED_STAT_WAITS_OVER_1S, 1);
	longest = bpf_map_lookup_elem(&ubc_sched_stats, &key);
	if (longest && *longest < wait)
		*longest = wait; /* per-CPU: no other writer */
}

static __always_inline void note_slot(__u32 slot)
{
	if (slot > READ_ONCE(highest_slot))
		WRITE_ONCE(highest_slot, slot);
}

static __always_inline void note_running(__u32 slot, __u64 task_vtime)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct cpu_running *running = bpf_map_lookup_elem(&running_on, &cpu);

	if (running) {
		WRITE_ONCE(running->task_vtime, task_vtime);
		WRITE_ONCE(running->slot, slot);
	}
}

s32 BPF_STRUCT_OPS(ubc_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	if (is_idle) {
		struct task_ctx *tctx = task_ctx_of(p);
		struct ubc_sched_ct *group = group_of_slot(task_slot(p, tctx));
		__u64 until;

		if (group && !group_throttled(group, scx_bpf_now(), &until)) {
			clamp_task_vtime(p, group);
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, UBC_SCHED_SLICE_NS, 0);
			stat_add(UBC_SCHED_STAT_DIRECT, 1);
		}
	}
	return cpu;
}

/* A woken task that found no idle CPU takes its CPU from the task running there if that
 * one is further ahead: its group has used more weighted time (level one), or, in the same
 * group, it has by more than a slice (level two, so that a group's own wake-ups do not
 * preempt each other at every turn). Only the woken task's CPU is examined: O(1). */
static void preempt_if_ahead(struct task_struct *p, __u32 slot, struct ubc_sched_ct *group)
{
	__u32 cpu = scx_bpf_task_cpu(p);
	struct cpu_running *running = bpf_map_lookup_elem(&running_on, &cpu);
	struct ubc_sched_ct *other;
	__u32 other_slot;

	if (!running)
		return;
	other_slot = READ_ONCE(running->slot);
	if (other_slot >= UBC_MAX_CTS)
		return;
	if (other_slot == slot) {
		if (!vtime_before(p->scx.dsq_vtime + UBC_SCHED_SLICE_NS,
				  READ_ONCE(running->task_vtime)))
			return;
	} else {
		other = group_of_slot(other_slot);
		if (!other || !vtime_before(READ_ONCE(group->vtime), READ_ONCE(other->vtime)))
			return;
	}
	scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
	stat_add(UBC_SCHED_STAT_PREEMPT, 1);
}

void BPF_STRUCT_OPS(ubc_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = task_ctx_of(p);
	__u32 slot = task_slot(p, tctx);
	struct ubc_sched_ct *group = group_of_slot(slot);
	__u64 now = scx_bpf_now();
	__u64 until = 0;
	bool throttled;

	/* A per-CPU kthread (kworker/N, ksoftirqd/N) can run nowhere else, and the kernel waits
	 * on it: queued behind the groups, one starved for 14 s and got the scheduler ejected.
	 * It runs next on its CPU, outside the shares, as sched_ext's own schedulers do. */
	if ((p->flags & UBC_PF_KTHREAD) && p->nr_cpus_allowed == 1) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, UBC_SCHED_SLICE_NS, enq_flags);
		stat_add(UBC_SCHED_STAT_DIRECT, 1);
		return;
	}
	if (!group) {
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, UBC_SCHED_SLICE_NS, enq_flags);
		return;
	}
	throttled = group_throttled(group, now, &until);
	/* Nothing else wants this CPU: keep running unless the group is out of quota. */
	if ((enq_flags & SCX_ENQ_LAST) && !throttled) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, UBC_SCHED_SLICE_NS, enq_flags);
		return;
	}
	clamp_task_vtime(p, group);
	limit_task_lead(p, slot);
	if (!group_has_queued(slot, group))
		clamp_group_vtime(group);
	if (tctx) {
		uncount_queued(tctx); /* cannot be counted twice; defensive */
		count_queued(tctx, slot, group);
	}
	scx_bpf_dsq_insert_vtime(p, group_dsq(slot), UBC_SCHED_SLICE_NS, p->scx.dsq_vtime,
				 enq_flags);
	note_slot(slot);
	stat_add(UBC_SCHED_STAT_QUEUED, 1);
	if (throttled) {
		group_tree_park(slot, until);
		wake_at_unthrottle(until, now);
		return;
	}
	arm_group(slot, group);
	if (!(enq_flags & SCX_ENQ_CPU_SELECTED)) {
		/* Not woken through select_cpu (a preempted or requeued task): find it a CPU. */
		s32 idle = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

		if (idle >= 0)
			scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
	} else if (enq_flags & SCX_ENQ_WAKEUP) {
		/* select_cpu found no idle CPU for it. */
		preempt_if_ahead(p, slot, group);
	}
}

/* Level-one picks one dispatch may make: when the best group's queue yields nothing this CPU
 * may run (cpus, affinity), the next best is tried, and as a last resort every group. */
#define PICK_TRIES 3
/* Groups one pick may take from the tree: the one it picks, plus throttled groups it parks
 * and groups whose key was stale and go back with their vtime of now. */
#define PICK_POPS 8
#define PICK_REKEYS 4
/* A popped group whose vtime has moved past its key by more than this goes back in the tree
 * with its vtime of now (its tasks ran on other CPUs since it was armed). */
#define STALE_KEY_VTIME (UBC_SCHED_SLICE_NS / 5)
/* Throttled groups one dispatch moves back to the runnable tree when their period starts. */
#define RELEASE_MAX 4

/* State of one level-one decision, shared with the bpf_loop callbacks below (a callback is
 * verified once, whatever the number of groups; an open-coded loop would be explored
 * iteration by iteration). */
struct pick {
	__u64 now;
	__u64 wake_at; /* earliest start of a throttled group's next period, ~0 if none */
	__u64 best_vtime;
	s64 best;	       /* slot picked, -1 if none */
	s64 tried[PICK_TRIES]; /* slots whose queue yielded nothing here, -1 if unused */
	__u32 popped;
	__u32 rekeyed;
	__u32 throttled;
	bool exhausted; /* PICK_POPS groups popped without a pick */
	bool moved;
};

static __always_inline bool tried_before(const struct pick *pick, s64 slot)
{
	for (int i = 0; i < PICK_TRIES; i++)
		if (pick->tried[i] == slot)
			return true;
	return false;
}

/* Level one: takes the runnable group within quota with the least weighted CPU time. */
static long pick_group(__u64 index, struct pick *pick)
{
	struct ubc_sched_ct *group;
	__u64 key = 0, until, vtime;
	s64 slot = group_tree_pop_runnable(&key);

	if (slot < 0)
		return 1;
	pick->popped++;
	/* Its queue had nothing this CPU may run: out of the tree until this dispatch ends. */
	if (tried_before(pick, slot)) {
		pick->exhausted = index == PICK_POPS - 1;
		return 0;
	}
	group = group_of_slot(slot);
	if (!group)
		return 0;
	if (group_throttled(group, pick->now, &until)) {
		pick->throttled++;
		group_tree_park(slot, until);
		if (until < pick->wake_at)
			pick->wake_at = until;
		pick->exhausted = index == PICK_POPS - 1;
		return 0;
	}
	/* Its queue emptied since it was armed: its next enqueue arms it again. */
	if (!group_has_queued(slot, group)) {
		pick->exhausted = index == PICK_POPS - 1;
		return 0;
	}
	vtime = READ_ONCE(group->vtime);
	if (vtime_before(key + STALE_KEY_VTIME, vtime) && pick->rekeyed < PICK_REKEYS) {
		pick->rekeyed++;
		group_tree_arm(slot, vtime);
		pick->exhausted = index == PICK_POPS - 1;
		return 0;
	}
	pick->best = slot;
	pick->best_vtime = vtime;
	/* Back in the tree at once: while this CPU takes the head of its queue, the other CPUs
	 * must still see it (out of the tree, a CPU looking now would find nothing and idle). */
	arm_group(slot, group);
	return 1;
}

/* Throttled groups whose next period has started compete again. */
static void release_unthrottled(struct pick *pick)
{
	for (int i = 0; i < RELEASE_MAX; i++) {
		__u64 next = ~0ULL;
		s64 slot = group_tree_pop_unthrottled(pick->now, &next);
		struct ubc_sched_ct *group;

		if (slot < 0) {
			if (next < pick->wake_at)
				pick->wake_at = next;
			return;
		}
		group = group_of_slot(slot);
		if (group && group_has_queued(slot, group))
			arm_group(slot, group);
	}
	pick->wake_at = pick->now; /* more may be due: look again at once */
}

/* Groups whose queue had nothing this CPU may run go back in the tree for the others. */
static __always_inline void rearm_tried(const struct pick *pick)
{
	for (int i = 0; i < PICK_TRIES; i++) {
		s64 slot = pick->tried[i];
		struct ubc_sched_ct *group;

		if (slot < 0)
			continue;
		group = group_of_slot(slot);
		if (group && group_has_queued(slot, group))
			arm_group(slot, group);
	}
}

/* No group the tree offered has a task this CPU may run: take from any other group within
 * quota that has one that can (linear, but only after PICK_TRIES misses). */
static long move_from_any_group(__u64 index, struct pick *pick)
{
	__u32 slot = index;
	struct ubc_sched_ct *group;
	__u64 until;

	if (scx_bpf_dsq_nr_queued(group_dsq(slot)) <= 0)
		return 0;
	group = group_of_slot(slot);
	if (!group || group_throttled(group, pick->now, &until))
		return 0;
	pick->popped++;
	pick->moved = scx_bpf_dsq_move_to_local(group_dsq(slot));
	return pick->moved ? 1 : 0;
}

/* Whether `prev`, still runnable as its slice ends, should run on rather than what the pick
 * found. A running task is in no queue, so neither the tree nor its group's DSQ sees it;
 * without this check two tasks or groups sharing a CPU would take turns whatever their
 * weights. */
static bool keep_prev(struct task_struct *prev, const struct pick *pick)
{
	struct task_struct *head;
	struct ubc_sched_ct *group;
	struct task_ctx *tctx;
	__u64 until;
	__u32 slot;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED))
		return false;
	tctx = running_task_ctx(prev);
	if (!tctx)
		return false;
	slot = task_slot(prev, tctx);
	group = group_of_slot(slot);
	if (!group || group_throttled(group, pick->now, &until))
		return false;
	/* Level one: another group has used less than prev's. */
	if (pick->best >= 0 && pick->best != slot &&
	    vtime_before(pick->best_vtime, READ_ONCE(group->vtime)))
		return false;
	/* Level two: a task of prev's own group has used less than prev. */
	head = scx_bpf_dsq_peek(group_dsq(slot));
	return !head || !vtime_before(head->scx.dsq_vtime, prev->scx.dsq_vtime);
}

void BPF_STRUCT_OPS(ubc_dispatch, s32 cpu, struct task_struct *prev)
{
	struct pick pick = {
		.now = scx_bpf_now(),
		.wake_at = ~0ULL,
		.tried = {-1, -1, -1},
	};

	stat_add(UBC_SCHED_STAT_DISPATCH, 1);
	release_unthrottled(&pick);
	for (int try = 0; try < PICK_TRIES; try++) {
		pick.best = -1;
		bpf_loop(PICK_POPS, pick_group, &pick, 0);
		if (try == 0 && keep_prev(prev, &pick)) {
			scx_bpf_task_set_slice(prev, UBC_SCHED_SLICE_NS);
			goto out;
		}
		if (pick.best < 0)
			break;
		/* Level two: the group's DSQ hands out its smallest task vtime this CPU may run. */
		if (scx_bpf_dsq_move_to_local(group_dsq(pick.best))) {
			if (vtime_before(READ_ONCE(global_vtime), pick.best_vtime))
				WRITE_ONCE(global_vtime, pick.best_vtime);
			goto out;
		}
		stat_add(UBC_SCHED_STAT_AFFINITY_MISS, 1);
		pick.tried[try] = pick.best; /* the next pops set it aside */
	}
	if (pick.exhausted)
		scx_bpf_kick_cpu(cpu, 0); /* the pops ran out before a pick: look again */
	if (pick.tried[0] >= 0) {
		__u32 groups = READ_ONCE(highest_slot) + 1;

		bpf_loop(groups < UBC_MAX_CTS ? groups : UBC_MAX_CTS, move_from_any_group, &pick,
			 0);
		if (pick.moved)
			goto out;
	}
out:
	rearm_tried(&pick);
	stat_add(UBC_SCHED_STAT_GROUPS_READ, pick.popped);
	if (pick.throttled)
		stat_add(UBC_SCHED_STAT_THROTTLED, 1);
	if (pick.wake_at != ~0ULL)
		wake_at_unthrottle(pick.wake_at, pick.now);
}

void BPF_STRUCT_OPS(ubc_tick, struct task_struct *p)
{
	struct task_ctx *tctx = running_task_ctx(p);
	struct ubc_sched_ct *group;
	__u64 now = scx_bpf_now();
	__u64 until;

	if (!tctx)
		return;
	charge_running(p, tctx, now);
	group = group_of_slot(tctx->charged_slot);
	if (group && group_throttled(group, now, &until)) {
		scx_bpf_task_set_slice(p, 0);
		wake_at_unthrottle(until, now);
	}
}

void BPF_STRUCT_OPS(ubc_running, struct task_struct *p)
{
	struct task_ctx *tctx = running_task_ctx(p);
	struct ubc_sched_ct *group;
	__u64 now;

	if (!tctx)
		return;
	now = scx_bpf_now();
	note_wait(tctx, now);
	uncount_queued(tctx);
	tctx->charged_at = now;
	tctx->charged_slot = task_slot(p, tctx);
	group = group_of_slot(tctx->charged_slot);
	if (group && vtime_before(READ_ONCE(group->task_vtime_now), p->scx.dsq_vtime))
		WRITE_ONCE(group->task_vtime_now, p->scx.dsq_vtime);
	note_running(tctx->charged_slot, p->scx.dsq_vtime);
}

void BPF_STRUCT_OPS(ubc_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = running_task_ctx(p);

	if (!tctx)
		return;
	charge_running(p, tctx, scx_bpf_now());
	tctx->charged_at = 0;
	note_running(UBC_MAX_CTS, 0);
}

/* Off the runqueue (sleep, exit, or a change of affinity, nice or cgroup, after which the
 * kernel enqueues it again): if it was still in its group's queue, it no longer is. */
void BPF_STRUCT_OPS(ubc_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = task_ctx_of(p);

	if (tctx)
		uncount_queued(tctx);
}

void BPF_STRUCT_OPS(ubc_enable, struct task_struct *p)
{
	struct ubc_sched_ct *group = group_of_slot(task_slot(p, task_ctx_of(p)));

	scx_bpf_task_set_dsq_vtime(p, group ? READ_ONCE(group->task_vtime_now) : 0);
}

s32 BPF_STRUCT_OPS(ubc_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx =
		bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!tctx)
		return -ENOMEM;
	tctx->queued_slot = UBC_MAX_CTS;
	return 0;
}

void BPF_STRUCT_OPS(ubc_cgroup_move, struct task_struct *p, struct cgroup *from, struct cgroup *to)
{
	struct task_ctx *tctx = running_task_ctx(p);
	struct ubc_sched_ct *group;
	__u32 slot;

	if (!tctx)
		return;
	/* A running task (one that wrote its own pid to cgroup.procs) is charged to the old
	 * group up to now and to the new one from now: waiting for its next stop would let a
	 * task that is never preempted escape its new group's share and cpulimit. */
	if (tctx->charged_at)
		charge_running(p, tctx, scx_bpf_now());
	tctx->cgroup_id = 0;
	slot = task_slot(p, tctx);
	if (tctx->charged_at)
		tctx->charged_slot = slot;
	/* Start level two in the new group where its tasks are, not where the old one was. */
	group = group_of_slot(slot);
	if (group)
		scx_bpf_task_set_dsq_vtime(p, READ_ONCE(group->task_vtime_now));
}

/* Remembers a cgroup's policy, and applies it at once if the cgroup is a CT. */
static void set_cgroup_policy(struct cgroup *cgrp, const struct ubc_sched_cgroup_policy *change,
			      bool weight, bool bandwidth)
{
	__u64 cgroup_id = BPF_CORE_READ(cgrp, kn, id);
	struct ubc_sched_cgroup_policy *policy =
		bpf_map_lookup_elem(&ubc_sched_cgroup_policy, &cgroup_id);
	struct ubc_sched_cgroup_policy fresh = {
		.weight = UBC_SCHED_DEFAULT_WEIGHT,
		.quota_ns = UBC_SCHED_NO_QUOTA,
		.period_ns = UBC_SCHED_DEFAULT_PERIOD_NS,
	};

	if (!policy) {
		bpf_map_update_elem(&ubc_sched_cgroup_policy, &cgroup_id, &fresh, BPF_NOEXIST);
		policy = bpf_map_lookup_elem(&ubc_sched_cgroup_policy, &cgroup_id);
		if (!policy)
			return;
	}
	if (weight)
		WRITE_ONCE(policy->weight, change->weight);
	if (bandwidth) {
		WRITE_ONCE(policy->quota_ns, change->quota_ns);
		WRITE_ONCE(policy->period_ns, change->period_ns);
	}

	struct ubc_sched_ct *group;
	struct ubc_ct_ref ct;

	if (!ubc_ct_of_cgroup_id(cgroup_id, &ct))
		return;
	group = group_of_slot(ct.slot);
	if (!group)
		return;
	if (READ_ONCE(group->generation) != ct.generation) {
		reset_group(group, cgroup_id, ct.generation); /* reads the policy above */
		return;
	}
	if (weight)
		WRITE_ONCE(group->weight, change->weight);
	if (bandwidth) {
		WRITE_ONCE(group->period_ns, change->period_ns);
		WRITE_ONCE(group->quota_ns, change->quota_ns);
	}
}

s32 BPF_STRUCT_OPS_SLEEPABLE(ubc_cgroup_init, struct cgroup *cgrp,
			     struct scx_cgroup_init_args *args)
{
	struct ubc_sched_cgroup_policy policy = {
		.weight = args->weight,
		.quota_ns = quota_from_us(args->bw_quota_us),
		.period_ns = args->bw_period_us * 1000,
	};

	set_cgroup_policy(cgrp, &policy, true, true);
	return 0;
}

void BPF_STRUCT_OPS_SLEEPABLE(ubc_cgroup_exit, struct cgroup *cgrp)
{
	__u64 cgroup_id = BPF_CORE_READ(cgrp, kn, id);

	bpf_map_delete_elem(&ubc_sched_cgroup_policy, &cgroup_id);
}

void BPF_STRUCT_OPS(ubc_cgroup_set_weight, struct cgroup *cgrp, u32 weight)
{
	struct ubc_sched_cgroup_policy policy = {.weight = weight};

	set_cgroup_policy(cgrp, &policy, true, false);
}

void BPF_STRUCT_OPS(ubc_cgroup_set_bandwidth, struct cgroup *cgrp, u64 period_us, u64 quota_us,
		    u64 burst_us)
{
	struct ubc_sched_cgroup_policy policy = {
		.quota_ns = quota_from_us(quota_us),
		.period_ns = period_us * 1000,
	};

	set_cgroup_policy(cgrp, &policy, false, true);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(ubc_init)
{
	struct unthrottle_timer *unthrottle;
	__u32 key = 0;
	__u32 slot, cpu;
	s32 err;

	bpf_for(slot, 0, UBC_MAX_CTS)
	{
		err = scx_bpf_create_dsq(group_dsq(slot), -1);
		if (err)
			return err;
	}
	err = group_tree_init();
	if (err)
		return err;
	bpf_for(cpu, 0, UBC_SCHED_MAX_CPUS)
	{
		struct cpu_running *running = bpf_map_lookup_elem(&running_on, &cpu);

		if (running)
			running->slot = UBC_MAX_CTS; /* nothing of ours runs there yet */
	}
	unthrottle = bpf_map_lookup_elem(&unthrottle_timers, &key);
	if (!unthrottle)
		return -ENOENT;
	bpf_timer_init(&unthrottle->timer, &unthrottle_timers, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&unthrottle->timer, kick_idle_cpus);
	return 0;
}

void BPF_STRUCT_OPS(ubc_exit, struct scx_exit_info *ei)
{
	__u32 key = 0;
	struct ubc_sched_exit_info *info = bpf_map_lookup_elem(&ubc_sched_exit, &key);

	if (!info)
		return;
	info->exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(info->reason, sizeof(info->reason), ei->reason);
	bpf_probe_read_kernel_str(info->msg, sizeof(info->msg), ei->msg);
	WRITE_ONCE(info->kind, ei->kind);
}

SEC(".struct_ops.link")
struct sched_ext_ops ubc_sched_ops = {
	.select_cpu = (void *)ubc_select_cpu,
	.enqueue = (void *)ubc_enqueue,
	.dispatch = (void *)ubc_dispatch,
	.tick = (void *)ubc_tick,
	.running = (void *)ubc_running,
	.stopping = (void *)ubc_stopping,
	.quiescent = (void *)ubc_quiescent,
	.enable = (void *)ubc_enable,
	.init_task = (void *)ubc_init_task,
	.cgroup_init = (void *)ubc_cgroup_init,
	.cgroup_exit = (void *)ubc_cgroup_exit,
	.cgroup_move = (void *)ubc_cgroup_move,
	.cgroup_set_weight = (void *)ubc_cgroup_set_weight,
	.cgroup_set_bandwidth = (void *)ubc_cgroup_set_bandwidth,
	.init = (void *)ubc_init,
	.exit = (void *)ubc_exit,
	.flags = SCX_OPS_ENQ_LAST,
	.timeout_ms = 10000,
	.name = "ubc",
};
