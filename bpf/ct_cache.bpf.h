/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The current task's CT, cached in its cgroup. Finding it in the CT index takes a helper
 * call and a hash lookup per cgroup level (a miss at every level for a host task), and
 * nearly every charge program asks first. The answer is kept in the cgroup's
 * local storage with the registry epoch it was found under (struct ubc_registry, bumped
 * by user space after each bind and unbind), so a hook pays one storage lookup until the
 * registry changes, and the first hook after a change looks it up again.
 */
#ifndef UBC_CT_CACHE_BPF_H
#define UBC_CT_CACHE_BPF_H

#include "ubc_ct_maps.bpf.h"

/* The low 32 bits of the epoch the answer was found under, and the CT's slot (0: none),
 * in one word: two hooks storing answers of different epochs at once can never leave one's
 * epoch with the other's slot. */
struct ubc_cgroup_ct {
	__u64 epoch_and_slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ubc_cgroup_ct);
} ubc_cgroup_ct SEC(".maps");

/* From the index: the outermost ancestor of the current task's cgroup (itself included)
 * that is a CT. The helper reads the ancestors' ids without a walk of our own. Sleepable
 * programs use this one: they hold no RCU section for the cgroup's storage. */
static __always_inline bool ubc_current_ct_from_index(struct ubc_ct_ref *ref)
{
	for (int level = 1; level <= UBC_MAX_CGROUP_DEPTH; level++) {
		__u64 cgroup_id = bpf_get_current_ancestor_cgroup_id(level);

		if (!cgroup_id)
			return false;
		if (ubc_ct_of_cgroup_id(cgroup_id, ref))
			return true;
	}
	return false;
}

/* The CT the current task belongs to, so that cgroups nested inside a CT are charged to
 * the CT. Returns false for host tasks. */
static __always_inline bool ubc_current_ct(struct ubc_ct_ref *ref)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ubc_cgroup_ct *cached;
	struct ubc_registry *registry;
	__u32 zero = 0, epoch, slot;
	__u64 seen;
	bool found;

	/* Set on every path: clang may otherwise spill a field no path wrote, which the
	 * verifier refuses as a read of an uninitialised register. */
	*ref = (struct ubc_ct_ref){};
	registry = bpf_map_lookup_elem(&ubc_registry, &zero);
	if (!registry)
		return ubc_current_ct_from_index(ref);
	/* Read before the index: an answer found after a change is never filed under the
	 * epoch before it. */
	epoch = (__u32)READ_ONCE(registry->epoch);
	cached = bpf_cgrp_storage_get(&ubc_cgroup_ct, task->cgroups->dfl_cgrp, 0,
				      BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (cached) {
		seen = READ_ONCE(cached->epoch_and_slot);
		if ((__u32)(seen >> 32) == epoch) {
			slot = (__u32)seen;
			return slot && ubc_ct_of_slot(slot, ref);
		}
	}
	found = ubc_current_ct_from_index(ref);
	if (cached)
		WRITE_ONCE(cached->epoch_and_slot, ((__u64)epoch << 32) | (found ? ref->slot : 0));
	return found;
}

#endif /* UBC_CT_CACHE_BPF_H */
