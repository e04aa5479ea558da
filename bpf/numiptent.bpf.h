/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * numiptent: nftables rules a CT's tasks created, refused past the limit with ENOMEM
 * (OpenVZ refused iptables entries at the limit, at table replace).
 *
 * nftables rules arrive in netlink batches that the kernel applies, or aborts, as a whole,
 * inside the sender's sendmsg(). So:
 * Reserve:  lsm.s/netlink_send sees the whole batch before nfnetlink parses it. It counts the
 *           NFT_MSG_NEWRULE messages and charges that many against the limit at once (CAS,
 *           so racing batches can never pass it together); a batch that does not fit is
 *           refused whole with ENOMEM, like OpenVZ's table replace, and so is a batch of
 *           more than UBC_MAX_BATCH_MESSAGES messages (the walk's bound: rules past it could
 *           not be reserved). The reservation is kept in the task's storage.
 * Charge:   fentry/nf_tables_rule_notify(NEWRULE) runs at commit for each rule that really
 *           entered the ruleset: it takes one unit of the reservation and records the rule's
 *           owner (a rule with no reservation left, e.g. a NEWRULE in a batch the task sent
 *           earlier, is charged forced).
 * Settle:   fexit/nf_tables_commit and fexit/nf_tables_abort hand back what the batch
 *           reserved and did not create (replaced rules, aborted batches); so does the next
 *           send and the task's exit.
 * Uncharge: fentry/nf_tables_rule_destroy, for rules recorded in ubc_iptent_owner: rule
 *           deletion, chain flush, table deletion and network namespace teardown all free
 *           rules there, whoever triggers them.
 * The nf_tables functions are in a module: the engine loads it (modprobe nf_tables) first,
 * and leaves these programs out, saying so in `ubcctl doctor`, when the kernel has none.
 */
#ifndef UBC_NUMIPTENT_BPF_H
#define UBC_NUMIPTENT_BPF_H

#include "charge.bpf.h"

#define UBC_NETLINK_NETFILTER 12
#define UBC_NFNL_SUBSYS_NFTABLES 10
#define UBC_NFT_MSG_NEWRULE 6
#define UBC_NFT_NEWRULE_TYPE ((UBC_NFNL_SUBSYS_NFTABLES << 8) | UBC_NFT_MSG_NEWRULE)
#define UBC_NLMSG_HDRLEN 16
#define UBC_MAX_BATCH_MESSAGES (1U << 16)

/* nf_tables types live in its module's BTF; only their addresses are used here. */
struct nft_ctx;
struct nft_rule;

struct ubc_iptent_task {
	struct ubc_charge_owner reservation; /* amount = rules reserved, not yet created */
	/* The walk over a batch being sent. It lives here, not on the stack, so that the
	 * verifier sees no changing scalars between bpf_loop iterations and checks the
	 * callback once instead of once per possible count. */
	__u64 walk_data;
	__u32 walk_len;
	__u32 walk_offset;
	__u32 walk_new_rules;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ubc_iptent_task);
} ubc_iptent_task SEC(".maps");

/* struct nft_rule pointer -> the CT charged for it. */
UBC_OWNER_MAP(ubc_iptent_owner, UBC_MAX_TRACKED_IPTENT);

static __always_inline struct ubc_iptent_task *ubc_iptent_task_of(struct task_struct *task,
								  __u64 flags)
{
	return bpf_task_storage_get(&ubc_iptent_task, task, 0, flags);
}

struct ubc_batch_walk {
	struct ubc_iptent_task *task;
};

static long ubc_count_message(__u64 index, struct ubc_batch_walk *ctx)
{
	struct ubc_iptent_task *walk = ctx->task;
	struct nlmsghdr header;
	__u32 offset = walk->walk_offset;

	if (offset + UBC_NLMSG_HDRLEN > walk->walk_len)
		return 1;
	if (bpf_probe_read_kernel(&header, sizeof(header), (void *)(walk->walk_data + offset)))
		return 1;
	if (header.nlmsg_len < UBC_NLMSG_HDRLEN)
		return 1;
	if (header.nlmsg_type == UBC_NFT_NEWRULE_TYPE)
		walk->walk_new_rules++;
	walk->walk_offset = offset + ((header.nlmsg_len + 3) & ~3U); /* NLMSG_ALIGN */
	return 0;
}

SEC("lsm.s/netlink_send")
int BPF_PROG(ubc_numiptent_reserve, struct sock *sk, struct sk_buff *skb, int ret)
{
	struct ubc_iptent_task *task;
	struct ubc_batch_walk walk;
	__u32 new_rules;
	struct ubc_ct_ref ct;

	/* Sleepable: no RCU section for the cgroup's cached answer; nftables batches are rare. */
	if (ret || BPF_CORE_READ(sk, sk_protocol) != UBC_NETLINK_NETFILTER ||
	    !ubc_current_ct_from_index(&ct))
		return ret;
	task = ubc_iptent_task_of(bpf_get_current_task_btf(), BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!task)
		return ret;
	ubc_release(&task->reservation, UBC_NUMIPTENT);
	task->walk_data = (__u64)BPF_CORE_READ(skb, data);
	task->walk_len = BPF_CORE_READ(skb, len);
	task->walk_offset = 0;
	task->walk_new_rules = 0;
	walk.task = task;
	/* A batch longer than the walk could hide rules past its end that nothing reserved:
	 * refused whole, counted as the CT's failure. */
	if (bpf_loop(UBC_MAX_BATCH_MESSAGES, ubc_count_message, &walk, 0) >=
		    UBC_MAX_BATCH_MESSAGES &&
	    task->walk_offset < task->walk_len) {
		struct ubc_counter *counter = &ct.ct->res[UBC_NUMIPTENT];

		ubc_refuse(ct.ct, counter, UBC_NUMIPTENT, task->walk_new_rules,
			   READ_ONCE(counter->held), UBC_MAX_BATCH_MESSAGES);
		return -ENOMEM;
	}
	new_rules = task->walk_new_rules;
	if (!new_rules)
		return 0;
	return ubc_reserve(&task->reservation, &ct, UBC_NUMIPTENT, new_rules, UBC_SOFT) ? -ENOMEM
											: 0;
}

SEC("fentry/nf_tables_rule_notify")
int BPF_PROG(ubc_numiptent_charge, const struct nft_ctx *nft_ctx, const struct nft_rule *rule,
	     int event)
{
	struct ubc_iptent_task *task;
	struct ubc_charge_owner owner;
	bool reserved;

	if (event != UBC_NFT_MSG_NEWRULE)
		return 0;
	task = ubc_iptent_task_of(bpf_get_current_task_btf(), 0);
	reserved = task && task->reservation.amount;
	if (!ubc_take_reserved(task ? &task->reservation : NULL, UBC_NUMIPTENT, &owner))
		return 0;
	if (!reserved)
		ubc_stat_inc(UBC_STAT_IPTENT_UNRESERVED);
	ubc_record_owner(&ubc_iptent_owner, (__u64)rule, &owner, UBC_NUMIPTENT);
	return 0;
}

static __always_inline void ubc_iptent_settle_current(void)
{
	struct ubc_iptent_task *task = ubc_iptent_task_of(bpf_get_current_task_btf(), 0);

	if (task)
		ubc_release(&task->reservation, UBC_NUMIPTENT);
}

SEC("fexit/nf_tables_commit")
int BPF_PROG(ubc_numiptent_commit_done)
{
	ubc_iptent_settle_current();
	return 0;
}

SEC("fexit/nf_tables_abort")
int BPF_PROG(ubc_numiptent_abort_done)
{
	ubc_iptent_settle_current();
	return 0;
}

SEC("fentry/nf_tables_rule_destroy")
int BPF_PROG(ubc_numiptent_uncharge, const struct nft_ctx *nft_ctx, struct nft_rule *rule)
{
	ubc_uncharge_owned(&ubc_iptent_owner, (__u64)rule, UBC_NUMIPTENT);
	return 0;
}

SEC("lsm/task_free")
int BPF_PROG(ubc_numiptent_task_free, struct task_struct *task)
{
	struct ubc_iptent_task *state = ubc_iptent_task_of(task, 0);

	if (state)
		ubc_release(&state->reservation, UBC_NUMIPTENT);
	return 0;
}

#endif /* UBC_NUMIPTENT_BPF_H */
