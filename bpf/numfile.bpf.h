/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * numfile: every struct file a CT's tasks allocate (regular files, directories, pipes,
 * sockets, epoll, eventfd, memfd, ...), refused past the barrier with ENFILE as OpenVZ did.
 *
 * Charge:   fmod_ret/security_file_alloc runs for every struct file before it is
 *           initialised. BPF LSM refuses the file_alloc_security hook since 6.19, so this is
 *           a modify-return program on the security_* function. Returning -ENFILE makes
 *           open(), pipe(), socket() ... fail with ENFILE; returning 0 lets the kernel go on.
 * Owner:    the file pointer is recorded with the CT's slot and generation, so the file is
 *           uncharged from the CT that allocated it, whoever drops the last reference.
 * Uncharge: lsm/file_free_security runs once for every struct file that passed
 *           security_file_alloc (even one that never opened). Only recorded files are
 *           uncharged, so files from before the engine loaded never make held negative.
 * Rollback: if security_file_alloc itself fails after we charged (an LSM blob allocation),
 *           the kernel frees the file without file_free_security; fexit sees the error and
 *           undoes our charge.
 */
#ifndef UBC_NUMFILE_BPF_H
#define UBC_NUMFILE_BPF_H

#include "charge.bpf.h"

/* The file one of the two charge programs just charged on this CPU, for the other to find
 * without a CT or owner-map lookup. The other one takes it out again: left in, it could
 * name a new file at a freed one's address (slabs reuse them at once) that went uncharged
 * by a recursion miss. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ubc_numfile_just_charged SEC(".maps");

static __always_inline bool ubc_numfile_is_charged(struct file *file)
{
	__u64 key = (__u64)file;

	return bpf_map_lookup_elem(&ubc_file_owner, &key) != NULL;
}

/* Charges `file` to the current task's CT, unless another of the charge programs already
 * did, and records the owner; -ENFILE refuses it. */
static __always_inline int ubc_numfile_charge_once(struct file *file, const struct ubc_ct_ref *ct)
{
	if (ubc_numfile_is_charged(file))
		return 0;
	return ubc_charge_owned(&ubc_file_owner, (__u64)file, ct, UBC_NUMFILE, 1, UBC_HARD)
		       ? -ENFILE
		       : 0;
}

/*
 * Tracing programs (fmod_ret, fexit) are guarded per CPU against recursion: while a task is
 * inside one (preempted there, or interrupted), another entry on that CPU skips it and the
 * kernel only counts a "recursion miss". A skipped charge would let a file go uncharged, so
 * three programs try to charge each file and the first one that runs does it:
 *   - ubc_numfile_charge and ubc_numfile_charge_again, two fmod_ret programs on
 *     security_file_alloc (every struct file), each with its own recursion guard, so only
 *     a miss of both on the same CPU at once skips the charge there;
 *   - ubc_numfile_on_open, in lsm/file_open (bpf/file_hooks.bpf.h), never skipped (LSM
 *     programs have no recursion guard), for every file that is opened; what it charges is
 *     counted as a late charge.
 * Anonymous files (pipes, sockets, eventfd ...) never pass file_open: for them a double
 * miss goes uncharged. `ubcctl doctor` reports the kernel's miss counts per program.
 */
/* Whichever of the two runs first charges and leaves a note on this CPU; the other finds
 * the note and takes it out, with no CT or owner-map lookup (the kernel decides their
 * order). A task preempted between them may let another task's program replace the note:
 * then the owner map answers, as it does after a miss of the first one. */
static __always_inline int ubc_numfile_charge_alloc(struct file *file, int ret)
{
	__u32 zero = 0;
	__u64 *just_charged = bpf_map_lookup_elem(&ubc_numfile_just_charged, &zero);
	struct ubc_ct_ref ct;

	if (just_charged && *just_charged == (__u64)file) {
		*just_charged = 0;
		return ret;
	}
	if (ret || !ubc_current_ct(&ct))
		return ret;
	ret = ubc_numfile_charge_once(file, &ct);
	if (!ret && just_charged)
		*just_charged = (__u64)file;
	return ret;
}

SEC("fmod_ret/security_file_alloc")
int BPF_PROG(ubc_numfile_charge, struct file *file, int ret)
{
	return ubc_numfile_charge_alloc(file, ret);
}

SEC("fmod_ret/security_file_alloc")
int BPF_PROG(ubc_numfile_charge_again, struct file *file, int ret)
{
	return ubc_numfile_charge_alloc(file, ret);
}

/* At file_open (bpf/file_hooks.bpf.h), for a CT task: the late charge. */
static __always_inline int ubc_numfile_on_open(struct file *file, const struct ubc_ct_ref *ct)
{
	if (ubc_numfile_is_charged(file))
		return 0;
	ubc_stat_inc(UBC_STAT_LATE_CHARGE);
	return ubc_numfile_charge_once(file, ct);
}

SEC("fexit/security_file_alloc")
int BPF_PROG(ubc_numfile_alloc_exit, struct file *file, int ret)
{
	if (ret && ubc_uncharge_owned(&ubc_file_owner, (__u64)file, UBC_NUMFILE))
		ubc_stat_inc(UBC_STAT_FILE_ALLOC_ROLLBACK);
	return 0;
}

/* At file_free_security (bpf/file_hooks.bpf.h), for every file. */
static __always_inline void ubc_numfile_on_free(struct file *file)
{
	ubc_uncharge_owned(&ubc_file_owner, (__u64)file, UBC_NUMFILE);
}

#endif /* UBC_NUMFILE_BPF_H */
