/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The scheduler's level-one order: the groups with queued tasks in a BPF rbtree keyed by
 * their vtime, so that a CPU finds the group to run in O(log n) instead of reading every
 * group slot; and the groups out of cpulimit quota in a second tree keyed by the start of
 * their next period, so that they leave the first tree until then and come back in order.
 *
 * Every group slot owns one node, allocated at ops.init. The node is always in exactly one
 * place: the slot's stash (a kptr in `group_nodes`), the runnable tree, or the throttled
 * tree (a CPU holds it only inside one of the functions below, never across them). Taking
 * it from the stash is the right to insert it, so whoever queues a task and whoever
 * dispatches one can race without inserting a group twice or losing it:
 *
 * - a CPU that queues a task arms its group afterwards (stash -> runnable tree);
 * - a CPU that pops a group puts its node in the stash first and arms it again only if
 *   the group still has queued tasks; a task queued in between finds the node in the
 *   stash and arms the group itself.
 *
 * A group's key is its vtime when it was armed; its tasks keep running meanwhile, so a key
 * may be lower than the group's vtime now. The dispatcher checks that at the pop and arms
 * the group again with its vtime of now when it is stale (`pick_group` in bpf/ubc_sched.bpf.c).
 */
#ifndef UBC_SCHED_GROUP_TREE_BPF_H
#define UBC_SCHED_GROUP_TREE_BPF_H

#include "scx.bpf.h"
#include "ubc_maps.h"

#define __kptr __attribute__((btf_type_tag("kptr")))
#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))
/* A global in its own data section: the lock and the trees it guards must share one. */
#define private(name) SEC(".data." #name) __hidden __attribute__((aligned(8)))
#ifndef container_of
#define container_of(ptr, type, member) ((type *)((void *)(ptr) - __builtin_offsetof(type, member)))
#endif

struct group_node {
	struct bpf_rb_node rb_node;
	__u64 key; /* vtime in the runnable tree, start of the next period in the throttled one */
	__u32 slot;
};

struct group_node_stash {
	struct group_node __kptr *node;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UBC_MAX_CTS);
	__type(key, __u32);
	__type(value, struct group_node_stash);
} group_nodes SEC(".maps");

private(GROUP_TREE) struct bpf_spin_lock group_tree_lock;
private(GROUP_TREE) struct bpf_rb_root runnable_groups __contains(group_node, rb_node);
private(GROUP_TREE) struct bpf_rb_root throttled_groups __contains(group_node, rb_node);

static bool group_key_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return vtime_before(container_of(a, struct group_node, rb_node)->key,
			    container_of(b, struct group_node, rb_node)->key);
}

/* ops.init: one node per slot, in its stash. */
static __always_inline int group_tree_init(void)
{
	__u32 slot;

	bpf_for(slot, 0, UBC_MAX_CTS)
	{
		struct group_node_stash *stash = bpf_map_lookup_elem(&group_nodes, &slot);
		struct group_node *node;

		if (!stash)
			return -ENOENT;
		node = bpf_obj_new_impl(bpf_core_type_id_local(struct group_node), NULL);
		if (!node)
			return -ENOMEM;
		node->slot = slot;
		node = bpf_kptr_xchg(&stash->node, node);
		if (node)
			bpf_obj_drop_impl(node, NULL);
	}
	return 0;
}

static __always_inline struct group_node_stash *group_stash(__u32 slot)
{
	return bpf_map_lookup_elem(&group_nodes, &slot);
}

/* Puts the slot's group in `tree` keyed by `key`, unless it is in a tree already. */
static __always_inline void group_tree_insert(struct bpf_rb_root *tree, __u32 slot, __u64 key)
{
	struct group_node_stash *stash = group_stash(slot);
	struct group_node *node;

	if (!stash)
		return;
	node = bpf_kptr_xchg(&stash->node, NULL);
	if (!node)
		return;
	node->key = key;
	bpf_spin_lock(&group_tree_lock);
	bpf_rbtree_add_impl(tree, &node->rb_node, group_key_less, NULL, 0);
	bpf_spin_unlock(&group_tree_lock);
}

/* The group has queued tasks: it competes at level one from `vtime`. */
static __always_inline void group_tree_arm(__u32 slot, __u64 vtime)
{
	group_tree_insert(&runnable_groups, slot, vtime);
}

/* The group is out of quota: it waits, out of the competition, until `until`. */
static __always_inline void group_tree_park(__u32 slot, __u64 until)
{
	group_tree_insert(&throttled_groups, slot, until);
}

/* Takes the first group of `tree` (with `bounded`, only if its key is not after `limit`)
 * and returns its slot, its node back in the stash; -1 when there is none. `key` is its
 * key, or the first key when that is after `limit`. */
static __always_inline s64 group_tree_pop(struct bpf_rb_root *tree, bool bounded, __u64 limit,
					  __u64 *key)
{
	struct group_node_stash *stash;
	struct bpf_rb_node *first;
	struct group_node *node;
	__u32 slot;

	bpf_spin_lock(&group_tree_lock);
	first = bpf_rbtree_first(tree);
	if (!first) {
		bpf_spin_unlock(&group_tree_lock);
		return -1;
	}
	*key = container_of(first, struct group_node, rb_node)->key;
	if (bounded && vtime_before(limit, *key)) {
		bpf_spin_unlock(&group_tree_lock);
		return -1;
	}
	first = bpf_rbtree_remove(tree, first);
	bpf_spin_unlock(&group_tree_lock);
	if (!first)
		return -1;
	node = container_of(first, struct group_node, rb_node);
	slot = node->slot;
	stash = group_stash(slot);
	if (!stash) {
		bpf_obj_drop_impl(node, NULL); /* cannot happen: slot < UBC_MAX_CTS */
		return -1;
	}
	node = bpf_kptr_xchg(&stash->node, node);
	if (node)
		bpf_obj_drop_impl(node, NULL); /* cannot happen: one node per slot */
	return slot;
}

/* The runnable group with the smallest key. */
static __always_inline s64 group_tree_pop_runnable(__u64 *key)
{
	return group_tree_pop(&runnable_groups, false, 0, key);
}

/* A throttled group whose next period has started by `now`; when there is none, `next` is
 * when the first one's starts (unchanged if no group is throttled). */
static __always_inline s64 group_tree_pop_unthrottled(__u64 now, __u64 *next)
{
	return group_tree_pop(&throttled_groups, true, now, next);
}

#endif /* UBC_SCHED_GROUP_TREE_BPF_H */
