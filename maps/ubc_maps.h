/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The engine's map layouts, shared by the BPF programs (bpf/) and user space (loader/, ubc/).
 * This header is the one place each layout is defined: change it here and both sides follow.
 *
 * A container (CT) owns one slot of the mmap-able array `ubc_cts`. User space writes a slot's
 * barrier and limit with plain atomic stores through the mapping. Of the rows BPF enforces,
 * BPF owns held, maxheld and failcnt and changes them only with atomic instructions; of the
 * rows read from the kernel's own counters (memcg, /proc, the socket iterators), user space
 * stores held and only ever raises maxheld and failcnt, and BPF never writes them. Nobody
 * ever rewrites a whole slot while the CT is live, so neither side can lose the other's
 * update.
 */
#ifndef UBC_MAPS_H
#define UBC_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Rows of /proc/user_beancounters, in OpenVZ's order without its "dummy" rows.
 * ubc/resource_table.cpp gives each its name, unit and semantics. */
enum ubc_resource {
	UBC_KMEMSIZE,
	UBC_LOCKEDPAGES,
	UBC_PRIVVMPAGES,
	UBC_SHMPAGES,
	UBC_NUMPROC,
	UBC_PHYSPAGES,
	UBC_VMGUARPAGES,
	UBC_OOMGUARPAGES,
	UBC_NUMTCPSOCK,
	UBC_NUMFLOCK,
	UBC_NUMPTY,
	UBC_NUMSIGINFO,
	UBC_TCPSNDBUF,
	UBC_TCPRCVBUF,
	UBC_OTHERSOCKBUF,
	UBC_DGRAMRCVBUF,
	UBC_NUMOTHERSOCK,
	UBC_DCACHESIZE,
	UBC_NUMFILE,
	UBC_NUMIPTENT,
	UBC_SWAPPAGES,
	UBC_RESOURCE_COUNT,
};

/* OpenVZ's "unlimited": LONG_MAX. */
#define UBC_UNLIMITED 0x7fffffffffffffffULL

/* How many CTs one host can have; slot 0 is never used so that 0 means "no CT". */
#define UBC_MAX_CTS 4096
/* How deep below the cgroup root a CT's cgroup may sit (ancestor levels searched). */
#define UBC_MAX_CGROUP_DEPTH 8
/* Kernel objects the engine can follow at once, host-wide: the capacity of each row's
 * owner map (kernel object -> the CT charged for it). The loader may size them down. */
#define UBC_MAX_TRACKED_FILES (1U << 20)
#define UBC_MAX_TRACKED_SOCKS (1U << 18) /* each of the TCP and the other sockets' maps */
#define UBC_MAX_TRACKED_LOCKS (1U << 18)
#define UBC_MAX_TRACKED_PTYS (1U << 18)
#define UBC_MAX_TRACKED_SIGINFO (1U << 18)
#define UBC_MAX_TRACKED_IPTENT (1U << 20)
#define UBC_MAX_TRACKED_SHM_SEGMENTS (1U << 18)
/* One CT may fill at most this fraction of any owner map, whatever its own limits: a CT
 * with an unlimited row cannot take every other CT's files, sockets or locks with it. */
#define UBC_OWNER_MAP_SHARE_DIVISOR 8
/* Every owner map of a count row: its name in the BPF object (declared in the row's hook
 * header, with the capacity given here), the row whose share of it a CT may hold, and its
 * capacity. The loader sizes each map and sets each share from this list; a new
 * owner-mapped row adds its line. (ubc_shm_owner, whose share counts SysV segments rather
 * than shmpages' pages, is sized apart.) */
/* clang-format off */
#define UBC_OWNER_MAPS(X)                                                        \
	X(ubc_file_owner, UBC_NUMFILE, UBC_MAX_TRACKED_FILES)                    \
	X(ubc_tcpsock_owner, UBC_NUMTCPSOCK, UBC_MAX_TRACKED_SOCKS)              \
	X(ubc_othersock_owner, UBC_NUMOTHERSOCK, UBC_MAX_TRACKED_SOCKS)          \
	X(ubc_flock_owner, UBC_NUMFLOCK, UBC_MAX_TRACKED_LOCKS)                  \
	X(ubc_pty_owner, UBC_NUMPTY, UBC_MAX_TRACKED_PTYS)                       \
	X(ubc_siginfo_owner, UBC_NUMSIGINFO, UBC_MAX_TRACKED_SIGINFO)            \
	X(ubc_iptent_owner, UBC_NUMIPTENT, UBC_MAX_TRACKED_IPTENT)
/* clang-format on */

struct ubc_counter {
	__u64 held;
	__u64 maxheld;
	__u64 barrier;
	__u64 limit;
	__u64 failcnt;
};

struct ubc_ct {
	/* cgroup v2 id of the CT's cgroup; 0 while the slot is free. */
	__u64 cgroup_id;
	/* Bumped every time the slot is (re)assigned, so a charge recorded for an earlier
	 * owner of the slot is never uncharged from a later one. */
	__u64 generation;
	struct ubc_counter res[UBC_RESOURCE_COUNT];
	/* SysV segments charged to the CT: their owner map's share counts segments, while
	 * the shmpages row counts pages. Kept by BPF, zeroed when the slot is assigned. */
	__u64 shm_segments;
};

/* The CT registry's version: user space adds one after every change of the CT index, so
 * that the hooks' cached answer to "which CT is this cgroup in" (bpf/ct_cache.bpf.h) is
 * looked up again from the index the next time. */
struct ubc_registry {
	__u64 epoch;
};

/* Who a charged kernel object was charged to (value of the per-object owner maps). */
struct ubc_charge_owner {
	__u32 slot;
	__u32 amount;
	__u64 generation;
};

/* The most one owner record can hold; a charge above it is refused. */
#define UBC_MAX_OWNER_AMOUNT 0xffffffffULL

/* Engine-wide health counters: things that are not any CT's fault. */
enum ubc_engine_stat {
	/* A file could not be tracked (owner map full), so its allocation was refused. */
	UBC_STAT_OWNER_MAP_FULL,
	/* The kernel failed a file allocation after we had charged it; charge rolled back. */
	UBC_STAT_FILE_ALLOC_ROLLBACK,
	/* Compare-and-swap lost so often that the charge fell back to add-then-check. */
	UBC_STAT_CHARGE_CONTENDED,
	/* A file both fmod_ret charge programs missed (kernel recursion guard), charged at open. */
	UBC_STAT_LATE_CHARGE,
	/* A refusal event was lost because the ring buffer was full (nobody reading it). */
	UBC_STAT_EVENTS_DROPPED,
	/* A SysV segment whose size the engine never saw (fentry/newseg skipped): uncharged. */
	UBC_STAT_UNSIZED_SHM,
	/* A lock list too long to walk whole after a request: new objects may be uncharged. */
	UBC_STAT_FLOCK_UNTRACKED,
	/* An nftables rule committed by a task with no reservation left: charged forced. */
	UBC_STAT_IPTENT_UNRESERVED,
	/* A lock request whose settle program was skipped, settled at the task's next one. */
	UBC_STAT_FLOCK_LATE_SETTLE,
	/* ... or not settled: its file was closed first (new objects may be uncharged). */
	UBC_STAT_FLOCK_SETTLE_LOST,
	/* A lock request refused because its inode's lock list is longer than the settle
	 * can walk (UBC_FLOCK_LIST_MAX objects). */
	UBC_STAT_FLOCK_LIST_FULL,
	UBC_STAT_COUNT,
};

/* Why a charge was refused. */
enum ubc_refusal_reason {
	UBC_REFUSED_THRESHOLD, /* held + amount would pass the barrier or limit */
	UBC_REFUSED_SHARE,     /* the CT holds its whole share of the row's owner map */
	UBC_REFUSED_MAP_FULL,  /* the row's owner map is full (all CTs' objects together) */
	UBC_REFUSED_LIST_FULL, /* numflock: the inode's lock list is too long to follow */
};

/* One refused charge, as the ring buffer `ubc_events` carries it to user space. */
struct ubc_refusal_event {
	__u64 timestamp_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cgroup_id;    /* the CT's cgroup */
	__u64 held;	    /* held when refused */
	__u64 threshold;    /* the barrier, limit or share that refused it */
	__u64 amount;	    /* what was asked for */
	__u32 resource;	    /* enum ubc_resource */
	__u32 pid;	    /* thread id of the refused task */
	__u32 tgid;	    /* its process id */
	__u32 reason;	    /* enum ubc_refusal_reason */
	char comm[16];
};

#define UBC_EVENTS_BYTES (256 * 1024)

/* What the engine's iterators (pinned as link_ubc_iter_*) write, for user space to sum per
 * CT when it reads the rows the kernel keeps (ubc/usage_reader.cpp): the bytes in one socket
 * buffer, the resident pages of one SysV segment, the mm counters of one process, the network
 * namespace a CT's process is in. */
enum ubc_iter_kind {
	UBC_ITER_ROW = 0,     /* a part of a row: held summed over records, marks the highest */
	UBC_ITER_NETWORK = 1, /* held: a network namespace's inode, maxheld: a process in it */
};

struct ubc_iter_record {
	__u32 slot;	  /* the CT */
	__u16 kind;	  /* enum ubc_iter_kind */
	__u16 resource;	  /* UBC_ITER_ROW: enum ubc_resource */
	__u64 generation; /* of that slot when the object was charged or the CT seen */
	__u64 held;	  /* in the row's unit */
	__u64 maxheld;	  /* the kernel's own high-water mark of the row, 0 when it keeps none */
	__u64 failcnt;	  /* the kernel's own count of refusals, 0 when it keeps none */
};

/* A CT cgroup's memcg figures as the memcg iterator last read them (map ubc_ct_memcg, by
 * slot, mmapped by user space). One walk over the host's cgroups fills every CT's at once;
 * they go to a map, not to the iterator's output, because a cgroup walk cannot span two
 * read() calls and a thousand CTs' figures do not fit in one. */
struct ubc_memcg_figures {
	__u64 read_at_ns;   /* bpf_ktime_get_ns() when read: a reader keeps only a read it ran */
	__u64 generation;   /* of the slot when read */
	__u64 memory_pages; /* memory.current */
	__u64 memory_peak_pages; /* memory.peak */
	__u64 memory_max_events; /* memory.events max */
	__u64 swap_pages;	 /* memory.swap.current */
	__u64 swap_peak_pages;	 /* memory.swap.peak */
	__u64 swap_max_events;	 /* memory.swap.events max */
	__u64 kernel_bytes;	 /* memory.stat kernel */
	__u64 slab_reclaimable_bytes;
	__u64 anon_bytes;
	__u64 unevictable_bytes;
	__u64 shmem_bytes;
};

/* Device nodes a running CT's tasks may open (OpenVZ's --devnodes): a key per node, or per
 * major with UBC_DEVICE_ANY_MINOR, valued with UBC_DEVICE_READ | UBC_DEVICE_WRITE. The
 * policy holds only while ubc_device_guard[slot] equals the slot's generation: CTs that
 * ubcctl does not run (bare cgroups, adopted ones) keep the host's device rules. */
#define UBC_DEVICE_READ 1
#define UBC_DEVICE_WRITE 2
#define UBC_DEVICE_ANY_MINOR 0xffffffffu
#define UBC_DEVICE_CHAR 'c'
#define UBC_DEVICE_BLOCK 'b'
#define UBC_MAX_DEVICE_RULES 8192

struct ubc_device_key {
	__u32 slot;
	__u32 type; /* UBC_DEVICE_CHAR or UBC_DEVICE_BLOCK */
	__u32 major;
	__u32 minor;
};

/* Names under the engine's bpffs directory (default /sys/fs/bpf/ubc). */
#define UBC_PIN_CTS "ubc_cts"
#define UBC_PIN_CT_INDEX "ubc_ct_index"
#define UBC_PIN_REGISTRY "ubc_registry"
#define UBC_PIN_CT_MEMCG "ubc_ct_memcg"
#define UBC_PIN_FILE_OWNER "ubc_file_owner"
#define UBC_PIN_ENGINE_STATS "ubc_engine_stats"
#define UBC_PIN_EVENTS "ubc_events"
#define UBC_PIN_DEVICES "ubc_devices"
#define UBC_PIN_DEVICE_GUARD "ubc_device_guard"
#define UBC_PIN_HELPER_CGROUPS "ubc_helper_cgroups"

#endif /* UBC_MAPS_H */
