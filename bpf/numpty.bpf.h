/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * numpty: pseudo-terminals a CT opened, counted at the open of the pty master
 * (/dev/ptmx, or the ptmx node of any devpts instance: both are char device 5:2), refused
 * past the barrier with ENOMEM as OpenVZ did, uncharged when that master file is freed.
 *
 * Charge:   lsm/file_open (its step, ubc_numpty_on_open, runs in bpf/file_hooks.bpf.h) sees
 *           every open with the inode already set. LSM programs have
 *           no recursion guard, so no open is ever missed. ptmx_open() runs after the hook
 *           and may still fail (devpts max=, no memory): then the file is freed at once and
 *           the free hook uncharges it, so held never counts a pty that did not exist.
 * Uncharge: lsm/file_free_security (ubc_numpty_on_free), for files recorded in
 *           ubc_pty_owner only.
 */
#ifndef UBC_NUMPTY_BPF_H
#define UBC_NUMPTY_BPF_H

#include "charge.bpf.h"

/* The kernel's internal dev_t: MKDEV(major, minor) = major << 20 | minor. */
#define UBC_PTMX_RDEV ((5U << 20) | 2U)

/* struct file pointer of a pty master -> the CT that opened it. */
UBC_OWNER_MAP(ubc_pty_owner, UBC_MAX_TRACKED_PTYS);

static __always_inline bool ubc_is_ptmx(struct file *file)
{
	struct inode *inode = file->f_inode;

	return inode && (inode->i_mode & UBC_S_IFMT) == UBC_S_IFCHR &&
	       inode->i_rdev == UBC_PTMX_RDEV;
}

/* At file_open (bpf/file_hooks.bpf.h), for a CT task. */
static __always_inline int ubc_numpty_on_open(struct file *file, const struct ubc_ct_ref *ct)
{
	if (!ubc_is_ptmx(file))
		return 0;
	return ubc_charge_owned(&ubc_pty_owner, (__u64)file, ct, UBC_NUMPTY, 1, UBC_HARD) ? -ENOMEM
											  : 0;
}

/* At file_free_security (bpf/file_hooks.bpf.h), for every file. */
static __always_inline void ubc_numpty_on_free(struct file *file)
{
	/* Only ptmx files were recorded (at open, with this same inode): every other file of
	 * the host is passed without an owner-map lookup. */
	if (ubc_is_ptmx(file))
		ubc_uncharge_owned(&ubc_pty_owner, (__u64)file, UBC_NUMPTY);
}

#endif /* UBC_NUMPTY_BPF_H */
