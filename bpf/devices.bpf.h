/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which device nodes a CT that ubcctl runs may open, and how (OpenVZ's --devnodes NAME:r|w|rw).
 * A read-only bind mount does not stop writes to a device node, so the check is here, at
 * open: a CT task may open a character or block device only as its CT's rules allow, and
 * gets EPERM otherwise. The same rules cover nodes a root file system brought along.
 */
#ifndef UBC_DEVICES_BPF_H
#define UBC_DEVICES_BPF_H

#include "charge.bpf.h"

#define UBC_FMODE_READ 0x1
#define UBC_FMODE_WRITE 0x2
#define UBC_MINORBITS 20 /* the kernel's dev_t: major << 20 | minor */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UBC_MAX_DEVICE_RULES);
	__type(key, struct ubc_device_key);
	__type(value, __u32);
} ubc_devices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UBC_MAX_CTS);
	__type(key, __u32);
	__type(value, __u64);
} ubc_device_guard SEC(".maps");

/* At file_open (bpf/file_hooks.bpf.h), for a CT task: -EPERM for a device node its rules
 * do not grant as asked. */
static __always_inline int ubc_device_on_open(struct file *file, const struct ubc_ct_ref *ct)
{
	struct inode *inode = file->f_inode;
	struct ubc_device_key key = {};
	__u32 *allowed, wanted = 0;
	__u64 *guard;
	umode_t type;
	dev_t device;

	if (!inode)
		return 0;
	type = inode->i_mode & UBC_S_IFMT;
	if (type != UBC_S_IFCHR && type != UBC_S_IFBLK)
		return 0;
	guard = bpf_map_lookup_elem(&ubc_device_guard, &ct->slot);
	if (!guard || *guard != ct->generation)
		return 0;
	device = inode->i_rdev;
	key.slot = ct->slot;
	key.type = type == UBC_S_IFCHR ? UBC_DEVICE_CHAR : UBC_DEVICE_BLOCK;
	key.major = device >> UBC_MINORBITS;
	key.minor = device & ((1U << UBC_MINORBITS) - 1);
	allowed = bpf_map_lookup_elem(&ubc_devices, &key);
	if (!allowed) {
		key.minor = UBC_DEVICE_ANY_MINOR;
		allowed = bpf_map_lookup_elem(&ubc_devices, &key);
	}
	if (file->f_mode & UBC_FMODE_READ)
		wanted |= UBC_DEVICE_READ;
	if (file->f_mode & UBC_FMODE_WRITE)
		wanted |= UBC_DEVICE_WRITE;
	if (!allowed || (wanted & ~*allowed))
		return -EPERM;
	return 0;
}

#endif /* UBC_DEVICES_BPF_H */
