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
 * - UBC_MAX_TRACKED_FILES live charged files host-wide; past it allocations in CTs are
 *   refused (counted in ubc_engine_stats) rather than left untracked.
 * - fexit programs can be skipped on recursion; the rollback path is only needed when
 *   security_file_alloc fails after our charge, which is an out-of-memory path.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define EPERM 1
#define ENOMEM 12
#define ENFILE 23
#define ENOLCK 37
#define ENOBUFS 105

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif

#include "numfile.bpf.h"
#include "numpty.bpf.h"
#include "numproc.bpf.h"
#include "shmpages.bpf.h"
#include "numflock.bpf.h"
#include "sockets.bpf.h"
#include "numiptent.bpf.h"
#include "numsiginfo.bpf.h"
#include "sockbufs.bpf.h"
#include "isolation.bpf.h"
#include "devices.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
