/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The engine's maps. Layouts come from maps/ubc_maps.h; this file only instantiates them. */
#ifndef UBC_MAPS_BPF_H
#define UBC_MAPS_BPF_H

#include "ubc_ct_maps.bpf.h"

/* An owner map: a kernel object's address -> the charge it carries, so that whoever frees
 * the object uncharges the CT that paid. Its capacity and the row whose share of it a CT
 * may hold are listed in UBC_OWNER_MAPS (maps/ubc_maps.h); the loader sizes it. */
#define UBC_OWNER_MAP(name, capacity)                                                              \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		__uint(max_entries, capacity);                                                     \
		__type(key, __u64);                                                                \
		__type(value, struct ubc_charge_owner);                                            \
	} name SEC(".maps")

/* struct file pointer -> the CT its allocation was charged to. */
UBC_OWNER_MAP(ubc_file_owner, UBC_MAX_TRACKED_FILES);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UBC_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} ubc_engine_stats SEC(".maps");

/* Refused charges, for `ubcctl events` and ubcd (struct ubc_refusal_event). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, UBC_EVENTS_BYTES);
} ubc_events SEC(".maps");

#endif /* UBC_MAPS_BPF_H */
