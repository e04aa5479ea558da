/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ubc's beancounter engine: OpenVZ's per-container resource counters on BPF.
 *
 * Design
 * ------
 * A container (CT) is a cgroup v2 directory. User space gives each CT a slot in the
 * mmap-able array `ubc_cts` and maps the CT's cgroup id to that slot in `ubc_ct_index`.
 * A hook that allocates a resource finds the allocating task's CT by walking its ancestor
 * cgroups (outermost CT wins, so cgroups nested in a CT are charged to it), charges the
 * CT's counter atomically against its threshold (charge.bpf.h), and records in a per-object
 * owner map which slot (and slot generation) paid. The free hook uncharges exactly what
 * was recorded, from any context, never from `current`.
 *
 * Everything is one BPF object so that every resource's hooks share the maps without
 * pinning tricks: each resource's hooks live in their own header, included below.
 *
 * Limits and known gaps
 * ---------------------
 * - Objects allocated before the engine loaded are never charged (held starts at 0 when a
 *   CT is registered); they are never uncharged either.
 * - Every owner map (files, sockets, locks, ptys, sigqueues, nftables rules, SysV segments)
 *   has a fixed capacity (maps/ubc_maps.h). One CT may fill at most a share of it
 *   (UBC_OWNER_MAP_SHARE_DIVISOR), and an object a full map cannot record is refused
 *   (reason map-full) rather than left untracked.
 * - fexit programs can be skipped on recursion; the rollback path is only needed when
 *   security_file_alloc fails after our charge, which is an out-of-memory path.
 */
#include "numfile.bpf.h"
#include "numpty.bpf.h"
#include "numproc.bpf.h"
#include "shmpages.bpf.h"
#include "numflock.bpf.h"
#include "sockets.bpf.h"
#include "numiptent.bpf.h"
#include "numsiginfo.bpf.h"
#include "sockbufs.bpf.h"
#include "kernel_rows.bpf.h"
#include "isolation.bpf.h"
#include "devices.bpf.h"
#include "file_hooks.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
