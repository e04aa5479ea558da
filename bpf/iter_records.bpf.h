/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What every engine iterator writes: struct ubc_iter_record (maps/ubc_maps.h), which user
 * space sums per CT in ubc/usage_reader.cpp. */
#ifndef UBC_ITER_RECORDS_BPF_H
#define UBC_ITER_RECORDS_BPF_H

#include "kernel.bpf.h"
#include "ubc_maps.h"

/* One record about the CT in `slot`, as that slot was at `generation`. */
static __always_inline void ubc_iter_write(struct seq_file *seq, __u32 slot, __u64 generation,
					   enum ubc_iter_kind kind, enum ubc_resource resource,
					   __u64 held, __u64 maxheld)
{
	struct ubc_iter_record record = {
		.slot = slot,
		.kind = kind,
		.resource = resource,
		.generation = generation,
		.held = held,
		.maxheld = maxheld,
	};

	bpf_seq_write(seq, &record, sizeof(record));
}

#endif /* UBC_ITER_RECORDS_BPF_H */
