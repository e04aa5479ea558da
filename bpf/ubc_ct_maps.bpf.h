/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The CT registry (layouts in maps/ubc_maps.h), included by the engine, which creates and
 * pins it, and by the CPU scheduler, whose loader reuses the engine's pinned maps; and the
 * one way both find the CT of a cgroup. */
#ifndef UBC_CT_MAPS_BPF_H
#define UBC_CT_MAPS_BPF_H

#include "kernel.bpf.h"
#include "ubc_maps.h"

/* One slot per CT; user space mmaps it to read counters and store barrier/limit. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, UBC_MAX_CTS);
	__type(key, __u32);
	__type(value, struct ubc_ct);
} ubc_cts SEC(".maps");

/* CT cgroup id -> slot in ubc_cts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UBC_MAX_CTS);
	__type(key, __u64);
	__type(value, __u32);
} ubc_ct_index SEC(".maps");

/* The registry's epoch, bumped by user space after every change of the CT index or of
 * the helper cgroups: an answer cached under an older epoch is looked up again. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ubc_registry);
} ubc_registry SEC(".maps");

/* A CT's helper cgroup id -> the CT's cgroup id. The host processes that serve one CT (its
 * /proc view, its console keeper) run in a cgroup outside the CT's, so that no beancounter
 * and no denial of the CT applies to them (nor can the CT reach that cgroup), yet the CPU
 * scheduler runs them in the CT's group: what a CT makes them do is its own CPU time. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UBC_MAX_CTS);
	__type(key, __u64);
	__type(value, __u64);
} ubc_helper_cgroups SEC(".maps");

/* A CT as a hook found it: its slot, and the slot's generation then (a slot reused by
 * another CT has a new generation, so a charge recorded with the old one is stale). */
struct ubc_ct_ref {
	struct ubc_ct *ct;
	__u32 slot;
	__u64 generation;
};

/* The CT in slot `slot`, as a hook finds it. */
static __always_inline bool ubc_ct_of_slot(__u32 slot, struct ubc_ct_ref *ref)
{
	ref->slot = slot;
	ref->ct = bpf_map_lookup_elem(&ubc_cts, &slot);
	if (!ref->ct)
		return false;
	ref->generation = READ_ONCE(ref->ct->generation);
	return true;
}

/* The CT registered for the cgroup with id `cgroup_id`, if one is. */
static __always_inline bool ubc_ct_of_cgroup_id(__u64 cgroup_id, struct ubc_ct_ref *ref)
{
	__u32 *slot = bpf_map_lookup_elem(&ubc_ct_index, &cgroup_id);

	return slot && ubc_ct_of_slot(*slot, ref);
}

/* The CT `cgrp` belongs to: its outermost ancestor (itself included) registered as a CT,
 * so that cgroups nested inside a CT count as the CT. */
static __always_inline bool ubc_ct_of_cgroup(struct cgroup *cgrp, struct ubc_ct_ref *ref)
{
	int level = BPF_CORE_READ(cgrp, level);

	for (int depth = 1; depth <= UBC_MAX_CGROUP_DEPTH && depth <= level; depth++) {
		struct cgroup *ancestor = NULL;

		bpf_core_read(&ancestor, sizeof(ancestor), &cgrp->ancestors[depth]);
		if (!ancestor)
			return false;
		if (ubc_ct_of_cgroup_id(BPF_CORE_READ(ancestor, kn, id), ref))
			return true;
	}
	return false;
}

/* The CT of `task`, by its cgroup v2 membership. */
static __always_inline bool ubc_ct_of_task(struct task_struct *task, struct ubc_ct_ref *ref)
{
	return ubc_ct_of_cgroup(BPF_CORE_READ(task, cgroups, dfl_cgrp), ref);
}

#endif /* UBC_CT_MAPS_BPF_H */
