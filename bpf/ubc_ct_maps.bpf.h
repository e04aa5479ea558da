/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The CT registry (layouts in maps/ubc_maps.h), included by the engine, which creates and
 * pins it, and by the CPU scheduler, whose loader reuses the engine's pinned maps. */
#ifndef UBC_CT_MAPS_BPF_H
#define UBC_CT_MAPS_BPF_H

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

#endif /* UBC_CT_MAPS_BPF_H */
