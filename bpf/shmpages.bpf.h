/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * shmpages, SysV part: pages of SysV shared memory segments a CT created, refused past the
 * barrier with ENOMEM (what shmget returns when the kernel's own accounting fails, and
 * what OpenVZ returned), uncharged when the segment is destroyed. Segments outlive their
 * creator (IPC_RMID, or the IPC namespace going away, frees them), so the charge does too.
 *
 * Size:     lsm/shm_alloc_security runs before the segment's size is stored, so
 *           fentry/newseg (which has it in its ipc_params) leaves it in the creating task's
 *           storage for the LSM hook to take.
 * Charge:   lsm/shm_alloc_security, ceil(size / PAGE_SIZE) pages, hard (barrier). If the
 *           size was never left (the kernel skipped fentry/newseg for recursion), nothing
 *           is charged and UBC_STAT_UNSIZED_SHM counts it.
 * Uncharge: lsm/shm_free_security, from the RCU callback that frees the segment (also when
 *           newseg fails after the hook), by the owner recorded for that segment.
 * Resident: iter/bpf_map_elem over ubc_shm_owner writes, per charged segment, the pages of
 *           it in memory, so that user space can tell the CT's other shared memory (tmpfs,
 *           POSIX shm, memfd, shared anonymous: memcg's "shmem" minus these) from its
 *           SysV segments. The engine attaches it to the map by hand (it needs the map's fd).
 */
#ifndef UBC_SHMPAGES_BPF_H
#define UBC_SHMPAGES_BPF_H

#include "charge.bpf.h"
#include "iter_records.bpf.h"

#define UBC_PAGE_SHIFT 12

/* What the task calling newseg asked for, until shm_alloc_security takes it. */
struct ubc_shm_request {
	__u64 size;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ubc_shm_request);
} ubc_shm_request SEC(".maps");

/* struct kern_ipc_perm pointer of a segment -> the CT charged for it. */
UBC_OWNER_MAP(ubc_shm_owner, UBC_MAX_TRACKED_SHM_SEGMENTS);

SEC("fentry/newseg")
int BPF_PROG(ubc_shmpages_size, struct ipc_namespace *ns, struct ipc_params *params)
{
	struct ubc_shm_request *request;
	struct ubc_ct_ref ct;

	if (!ubc_current_ct(&ct))
		return 0;
	request = bpf_task_storage_get(&ubc_shm_request, bpf_get_current_task_btf(), 0,
				       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (request)
		request->size = BPF_CORE_READ(params, u.size);
	return 0;
}

/* Counts one more segment against the CT's share of ubc_shm_owner; false: refused. */
static __always_inline bool ubc_shm_take_segment(struct ubc_ct *ct, __u64 pages)
{
	__u64 segments = __sync_add_and_fetch(&ct->shm_segments, 1);
	struct ubc_counter *counter = &ct->res[UBC_SHMPAGES];

	if (segments <= ubc_shm_segment_share)
		return true;
	__sync_fetch_and_sub(&ct->shm_segments, 1);
	/* held and threshold in segments here: the share is not a number of pages. */
	ubc_refuse_for(ct, counter, UBC_SHMPAGES, pages, segments - 1, ubc_shm_segment_share,
		       UBC_REFUSED_SHARE);
	return false;
}

static __always_inline void ubc_shm_give_segment(const struct ubc_charge_owner *owner)
{
	struct ubc_ct *ct = ubc_owner_ct(owner);

	if (ct)
		__sync_fetch_and_sub(&ct->shm_segments, 1);
}

SEC("lsm/shm_alloc_security")
int BPF_PROG(ubc_shmpages_charge, struct kern_ipc_perm *perm, int ret)
{
	struct ubc_shm_request *request;
	struct ubc_charge_owner owner;
	struct ubc_ct_ref ct;
	__u64 pages;

	if (ret || !ubc_current_ct(&ct))
		return ret;
	request = bpf_task_storage_get(&ubc_shm_request, bpf_get_current_task_btf(), 0, 0);
	if (!request || !request->size) {
		ubc_stat_inc(UBC_STAT_UNSIZED_SHM);
		return 0;
	}
	pages = (request->size + (1ULL << UBC_PAGE_SHIFT) - 1) >> UBC_PAGE_SHIFT;
	request->size = 0;
	/* The owner record holds 32 bits of pages (16 TiB): a larger segment could not be
	 * uncharged exactly, so it is refused as past any limit. */
	if (pages > UBC_MAX_OWNER_AMOUNT) {
		struct ubc_counter *counter = &ct.ct->res[UBC_SHMPAGES];

		ubc_refuse(ct.ct, counter, UBC_SHMPAGES, pages, READ_ONCE(counter->held),
			   UBC_MAX_OWNER_AMOUNT);
		return -ENOMEM;
	}
	if (!ubc_shm_take_segment(ct.ct, pages))
		return -ENOMEM;
	/* A refused segment never reaches shm_free_security: undo everything here. */
	if (ubc_charge_owned(&ubc_shm_owner, (__u64)perm, &ct, UBC_SHMPAGES, pages, UBC_HARD)) {
		owner = ubc_owner(&ct, pages);
		ubc_shm_give_segment(&owner);
		return -ENOMEM;
	}
	return 0;
}

SEC("lsm/shm_free_security")
int BPF_PROG(ubc_shmpages_uncharge, struct kern_ipc_perm *perm)
{
	struct ubc_charge_owner owner;

	if (ubc_uncharge_owned_as(&ubc_shm_owner, (__u64)perm, UBC_SHMPAGES, &owner))
		ubc_shm_give_segment(&owner);
	return 0;
}

SEC("iter/bpf_map_elem")
int ubc_iter_shm(struct bpf_iter__bpf_map_elem *ctx)
{
	struct ubc_charge_owner *owner = ctx->value;
	__u64 *key = ctx->key;
	struct shmid_kernel *segment;
	unsigned long resident;

	if (!key || !owner)
		return 0;
	/* The key is the segment's kern_ipc_perm, the first member of its shmid_kernel. The
	 * segment may be going away under RCU: every read is a probe read. */
	segment = (struct shmid_kernel *)*key;
	resident = BPF_CORE_READ(segment, shm_file, f_mapping, nrpages);
	if (!resident)
		return 0;
	ubc_iter_write(ctx->meta->seq, owner->slot, owner->generation, UBC_ITER_ROW, UBC_SHMPAGES,
		       resident, 0);
	return 0;
}

#endif /* UBC_SHMPAGES_BPF_H */
