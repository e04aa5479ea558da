/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The engine guards itself: no task in a CT may use the bpf() syscall, so a CT's root can
 * neither open the engine's pinned maps (to rewrite its own limits) nor load programs of
 * its own. OpenVZ's containers had no BPF at all; ubc keeps them that way.
 */
#ifndef UBC_ISOLATION_BPF_H
#define UBC_ISOLATION_BPF_H

#include "charge.bpf.h"

SEC("lsm/bpf")
int BPF_PROG(ubc_deny_bpf_in_ct, int cmd, union bpf_attr *attr, unsigned int size, bool kernel,
	     int ret)
{
	struct ubc_ct_ref ct;

	if (ret || kernel)
		return ret;
	return ubc_current_ct(&ct) ? -EPERM : 0;
}

#endif /* UBC_ISOLATION_BPF_H */
