/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Finding the current task's CT, and charging / uncharging a CT's counters.
 *
 * Charging must never let held pass the threshold, even with many CPUs charging the same
 * CT at once. The fast path is a compare-and-swap loop: read held, check, swap in
 * held + amount. Under extreme contention the loop gives up after UBC_CAS_RETRIES and falls
 * back to add-then-check-then-undo, which never admits an allocation past the threshold
 * either, but lets held read high for an instant (maxheld is only raised on success, so it
 * never records that instant).
 */
#ifndef UBC_CHARGE_BPF_H
#define UBC_CHARGE_BPF_H

#include "ct_cache.bpf.h"
#include "ubc_maps.bpf.h"

#define UBC_CAS_RETRIES 64

/* inode i_mode file types (vmlinux.h has no macros). */
#define UBC_S_IFMT 00170000
#define UBC_S_IFCHR 0020000
#define UBC_S_IFBLK 0060000

/* OpenVZ's strictness of a charge: which threshold refuses it. */
enum ubc_strictness {
	UBC_HARD,  /* refused past the barrier (and past the limit) */
	UBC_SOFT,  /* refused past the limit */
	UBC_FORCE, /* never refused, only counted */
};

/* Set by the loader from the owner maps' capacities: the most objects of a row one CT may
 * hold (0: the row has no owner map), and the most SysV segments. */
const volatile __u64 ubc_object_share[UBC_RESOURCE_COUNT];
const volatile __u64 ubc_shm_segment_share;

static __always_inline void ubc_stat_inc(enum ubc_engine_stat stat)
{
	__u32 key = stat;
	__u64 *value = bpf_map_lookup_elem(&ubc_engine_stats, &key);

	if (value)
		__sync_fetch_and_add(value, 1);
}

/* The owner record of `amount` charged to `ct`. */
static __always_inline struct ubc_charge_owner ubc_owner(const struct ubc_ct_ref *ct, __u32 amount)
{
	struct ubc_charge_owner owner = {
		.slot = ct->slot, .amount = amount, .generation = ct->generation};

	return owner;
}

/* The CT `owner` charged, unless its slot has since gone to another CT. */
static __always_inline struct ubc_ct *ubc_owner_ct(const struct ubc_charge_owner *owner)
{
	__u32 slot = owner->slot;
	struct ubc_ct *ct = bpf_map_lookup_elem(&ubc_cts, &slot);

	if (!ct || READ_ONCE(ct->generation) != owner->generation)
		return NULL;
	return ct;
}

/* The CT's share of the row's owner map, or ~0 for rows without one. */
static __always_inline __u64 ubc_share(enum ubc_resource resource)
{
	__u64 share = resource < UBC_RESOURCE_COUNT ? ubc_object_share[resource] : 0;

	return share ? share : ~0ULL;
}

static __always_inline __u64 ubc_threshold(struct ubc_counter *counter, enum ubc_resource resource,
					   enum ubc_strictness strictness)
{
	__u64 barrier = READ_ONCE(counter->barrier);
	__u64 limit = READ_ONCE(counter->limit);
	__u64 threshold = strictness == UBC_SOFT || barrier > limit ? limit : barrier;
	__u64 share = ubc_share(resource);

	if (strictness == UBC_FORCE)
		return ~0ULL;
	return share < threshold ? share : threshold;
}

static __always_inline void ubc_raise_maxheld(struct ubc_counter *counter, __u64 held)
{
	__u64 seen = READ_ONCE(counter->maxheld);

	for (int i = 0; i < UBC_CAS_RETRIES && held > seen; i++) {
		__u64 prev = __sync_val_compare_and_swap(&counter->maxheld, seen, held);

		if (prev == seen)
			return;
		seen = prev;
	}
}

/* Counts a refusal in failcnt and tells user space who was refused, and why. */
static __always_inline void ubc_refuse_for(struct ubc_ct *ct, struct ubc_counter *counter,
					   enum ubc_resource resource, __u64 amount, __u64 held,
					   __u64 threshold, enum ubc_refusal_reason reason)
{
	struct ubc_refusal_event *event;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	__sync_fetch_and_add(&counter->failcnt, 1);
	event = bpf_ringbuf_reserve(&ubc_events, sizeof(*event), 0);
	if (!event) {
		ubc_stat_inc(UBC_STAT_EVENTS_DROPPED);
		return;
	}
	event->timestamp_ns = bpf_ktime_get_ns();
	event->cgroup_id = ct->cgroup_id;
	event->held = held;
	event->threshold = threshold;
	event->amount = amount;
	event->resource = resource;
	event->pid = (__u32)pid_tgid;
	event->tgid = pid_tgid >> 32;
	event->reason = reason;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	bpf_ringbuf_submit(event, 0);
}

/* A refusal by the barrier, limit or the CT's share of an owner map (whichever is lower). */
static __always_inline void ubc_refuse(struct ubc_ct *ct, struct ubc_counter *counter,
				       enum ubc_resource resource, __u64 amount, __u64 held,
				       __u64 threshold)
{
	ubc_refuse_for(ct, counter, resource, amount, held, threshold,
		       threshold == ubc_share(resource) ? UBC_REFUSED_SHARE
							: UBC_REFUSED_THRESHOLD);
}

/* An object its owner map had no room for is refused (untracked, it could never be
 * uncharged), and the refusal names the CT like any other. */
static __always_inline void ubc_refuse_untracked(struct ubc_ct *ct, enum ubc_resource resource,
						 __u64 amount)
{
	struct ubc_counter *counter = &ct->res[resource];
	__u64 held = READ_ONCE(counter->held);

	ubc_refuse_for(ct, counter, resource, amount, held, held, UBC_REFUSED_MAP_FULL);
}

/* Charges `amount` to `resource` of the CT. Returns 0, or -1 after counting a failure. */
static __always_inline int ubc_charge(struct ubc_ct *ct, enum ubc_resource resource, __u64 amount,
				      enum ubc_strictness strictness)
{
	struct ubc_counter *counter = &ct->res[resource];
	__u64 threshold = ubc_threshold(counter, resource, strictness);
	__u64 held = READ_ONCE(counter->held);

	for (int i = 0; i < UBC_CAS_RETRIES; i++) {
		__u64 prev;

		if (held + amount > threshold) {
			ubc_refuse(ct, counter, resource, amount, held, threshold);
			return -1;
		}
		prev = __sync_val_compare_and_swap(&counter->held, held, held + amount);
		if (prev == held) {
			ubc_raise_maxheld(counter, held + amount);
			return 0;
		}
		held = prev;
	}

	ubc_stat_inc(UBC_STAT_CHARGE_CONTENDED);
	held = __sync_add_and_fetch(&counter->held, amount);
	if (held > threshold) {
		__sync_fetch_and_sub(&counter->held, amount);
		ubc_refuse(ct, counter, resource, amount, held - amount, threshold);
		return -1;
	}
	ubc_raise_maxheld(counter, held);
	return 0;
}

/* Uncharges what `owner` recorded, unless its slot has since gone to another CT. */
static __always_inline void ubc_uncharge(const struct ubc_charge_owner *owner,
					 enum ubc_resource resource)
{
	struct ubc_ct *ct = ubc_owner_ct(owner);

	if (ct)
		__sync_fetch_and_sub(&ct->res[resource].held, (__u64)owner->amount);
}

/*
 * Objects followed from allocation to free: a hash map per row ("owner map") keyed by the
 * object's kernel address records who paid, so that the free hook uncharges exactly that,
 * from any context.
 */

/* Records in `owners` that object `key` is charged as `owner` says. A full map undoes the
 * charge (an object nobody follows could never be uncharged) and counts it: returns -1. */
static __always_inline int ubc_record_owner(void *owners, __u64 key,
					    const struct ubc_charge_owner *owner,
					    enum ubc_resource resource)
{
	if (!bpf_map_update_elem(owners, &key, owner, BPF_NOEXIST))
		return 0;
	ubc_uncharge(owner, resource);
	ubc_stat_inc(UBC_STAT_OWNER_MAP_FULL);
	return -1;
}

/* Charges `amount` of `resource` to `ct` for object `key` and records it in `owners`.
 * Returns 0, or -1 after counting the refusal (threshold, share or full map). */
static __always_inline int ubc_charge_owned(void *owners, __u64 key, const struct ubc_ct_ref *ct,
					    enum ubc_resource resource, __u32 amount,
					    enum ubc_strictness strictness)
{
	struct ubc_charge_owner owner = ubc_owner(ct, amount);

	if (ubc_charge(ct->ct, resource, amount, strictness))
		return -1;
	if (ubc_record_owner(owners, key, &owner, resource)) {
		ubc_refuse_untracked(ct->ct, resource, amount);
		return -1;
	}
	return 0;
}

/* Uncharges object `key` if `owners` recorded it, and forgets it; `was` gets the record.
 * Returns false for an object that was never charged. */
static __always_inline bool ubc_uncharge_owned_as(void *owners, __u64 key,
						  enum ubc_resource resource,
						  struct ubc_charge_owner *was)
{
	struct ubc_charge_owner *owner = bpf_map_lookup_elem(owners, &key);

	if (!owner)
		return false;
	*was = *owner;
	ubc_uncharge(was, resource);
	bpf_map_delete_elem(owners, &key);
	return true;
}

static __always_inline bool ubc_uncharge_owned(void *owners, __u64 key, enum ubc_resource resource)
{
	struct ubc_charge_owner was;

	return ubc_uncharge_owned_as(owners, key, resource, &was);
}

/*
 * Reservations, for objects the kernel creates where no hook may refuse them: the request
 * that will create them (a lock, a signal, an nftables batch) reserves them in a hook that
 * can refuse, the task's storage keeps the reservation, each object takes one unit as it
 * appears, and what the request did not use goes back when it is done.
 */

/* Hands back what is left of `reservation`. */
static __always_inline void ubc_release(struct ubc_charge_owner *reservation,
					enum ubc_resource resource)
{
	if (!reservation->amount)
		return;
	ubc_uncharge(reservation, resource);
	reservation->amount = 0;
}

/* Replaces `reservation` by `amount` charged to `ct`. Returns 0, or -1 after counting the
 * refusal (and then nothing is reserved). */
static __always_inline int ubc_reserve(struct ubc_charge_owner *reservation,
				       const struct ubc_ct_ref *ct, enum ubc_resource resource,
				       __u32 amount, enum ubc_strictness strictness)
{
	ubc_release(reservation, resource);
	if (ubc_charge(ct->ct, resource, amount, strictness))
		return -1;
	*reservation = ubc_owner(ct, amount);
	return 0;
}

/* The owner of one object that just appeared: a unit taken from `reservation` (may be NULL),
 * or else one charged, forced, to the current task's CT. False for a host task. */
static __always_inline bool ubc_take_reserved(struct ubc_charge_owner *reservation,
					      enum ubc_resource resource,
					      struct ubc_charge_owner *owner)
{
	struct ubc_ct_ref ct;

	if (reservation && reservation->amount) {
		*owner = *reservation;
		owner->amount = 1;
		reservation->amount--;
		return true;
	}
	if (!ubc_current_ct(&ct))
		return false;
	ubc_charge(ct.ct, resource, 1, UBC_FORCE);
	*owner = ubc_owner(&ct, 1);
	return true;
}

#endif /* UBC_CHARGE_BPF_H */
