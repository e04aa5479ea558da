/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * numflock: file lock objects (flock, POSIX/OFD fcntl locks, leases) that a CT's tasks hold,
 * counted the way OpenVZ counted them: struct file_lock objects on an inode's lock lists.
 * POSIX ranges merge and split, so one fcntl() can add zero, one or two objects, or remove
 * some; counting hook calls would be wrong, so the objects themselves are followed:
 *
 * Reserve:  lsm/file_lock runs before every lock request (never skipped: it is an LSM
 *           program). It reserves, hard, at the barrier, the objects the request can add:
 *           one for a lock, plus one where a POSIX request falls strictly inside a lock
 *           of its owner that it splits in two (an unlock, or a lock of the other type;
 *           fentry/fcntl_setlk notes the range from the kernel's copy of struct flock).
 *           Refused with ENOLCK from fcntl() and ENOMEM from flock() and leases, OpenVZ's
 *           errnos; the kernel's own unlock can fail with ENOLCK where it cannot allocate
 *           the split. A request onto a list of UBC_FLOCK_LIST_MAX objects or more is
 *           refused the same way: the settle could not walk past them to count its own.
 * Settle:   when the request is done (fexit of fcntl_setlk and fcntl_setlease, entered
 *           from fs/fcntl.c, and of locks_lock_inode_wait, entered by flock(): call sites
 *           the compiler cannot inline away, unlike posix_lock_file's), the
 *           inode's list is walked for objects of this request's owner (POSIX) or file
 *           (flock, lease) that are not charged yet: those are new. The first takes the
 *           reservation, more (a split) are forced. An unused reservation is returned,
 *           unless the request is waiting to be retried (FILE_LOCK_DEFERRED).
 *           The kernel inlines its lock allocator, so objects cannot be followed from
 *           their allocation; the walk looks at most UBC_FLOCK_WALK entries of one list.
 * Uncharge: fentry/locks_unlink_lock_ctx, for every object leaving an inode's list (unlock,
 *           merge, close, exit), by the owner recorded for it.
 * Settle and uncharge are tracing programs, which the kernel's per-CPU recursion guard
 * skips when another task was preempted inside the same program on that CPU. They run with
 * preemption off, which leaves only the instants around their entry and exit; and a request
 * whose settle was skipped anyway (its reservation still held) is settled at the task's
 * next lsm/file_lock, an LSM program the guard never skips, if its file is still open in
 * the task's fd table (else its inode may be gone: counted as lost). `ubcctl doctor` shows
 * the misses, late settles and losses.
 */
#ifndef UBC_NUMFLOCK_BPF_H
#define UBC_NUMFLOCK_BPF_H

#include "charge.bpf.h"

#define UBC_F_UNLCK 2
#define UBC_F_SETLK 6
#define UBC_F_SETLKW 7
#define UBC_F_OFD_SETLK 37
#define UBC_F_OFD_SETLKW 38
#define UBC_F_SETLEASE 1024
#define UBC_FILE_LOCK_DEFERRED 1
#define UBC_NR_FCNTL 72
#define UBC_NR_FLOCK 73
#define UBC_FL_POSIX 1
#define UBC_FL_FLOCK 2
#define UBC_F_RDLCK 0
#define UBC_SEEK_SET 0
#define UBC_OFFSET_MAX 0x7fffffffffffffffLL
/* Objects on one inode's list a CT's request may join; the settle walks further than that,
 * so the objects of a request that got in are seen even if others join meanwhile. */
#define UBC_FLOCK_LIST_MAX 2048
#define UBC_FLOCK_WALK 4096

enum ubc_flock_list { UBC_FLOCK_LIST_FLOCK, UBC_FLOCK_LIST_POSIX, UBC_FLOCK_LIST_LEASE };

/* What a settle needs to know of a request, kept until the settle has run. */
struct ubc_flock_request {
	__u64 file;  /* struct file *; 0: nothing pending (or a request made outside a syscall) */
	__u64 owner; /* POSIX: the task's files_struct (or the file itself, for OFD locks) */
	__u32 fd;
	__u32 list; /* enum ubc_flock_list */
};

/* The byte range of a POSIX request, from fentry/fcntl_setlk, for its lsm/file_lock. */
struct ubc_flock_range {
	__u64 file;  /* struct file *; 0: none noted */
	__s64 start; /* first byte */
	__s64 end;   /* last byte (UBC_OFFSET_MAX: to the end of the file) */
	__u32 exact; /* 0: relative to the file position or size, not known here */
	__u32 pad;
};

/* A task's lock request in progress. */
struct ubc_flock_task {
	struct ubc_charge_owner reservation; /* the objects reserved (0, 1 or 2) while held */
	struct ubc_flock_request pending;
	struct ubc_flock_range range;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ubc_flock_task);
} ubc_flock_task SEC(".maps");

/* struct file_lock_core pointer of a lock on an inode's list -> the CT charged for it. */
UBC_OWNER_MAP(ubc_flock_owner, UBC_MAX_TRACKED_LOCKS);

/* fcntl() locks fail with ENOLCK; flock() and leases with ENOMEM (OpenVZ's choice). */
static __always_inline int ubc_flock_errno(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr = regs->orig_ax;

	if (nr == UBC_NR_FLOCK || (nr == UBC_NR_FCNTL && regs->si == UBC_F_SETLEASE))
		return -ENOMEM;
	return -ENOLCK;
}

static __always_inline void ubc_flock_release_reservation(struct ubc_flock_task *task)
{
	task->pending.file = 0;
	ubc_release(&task->reservation, UBC_NUMFLOCK);
}

/* The request this lsm/file_lock call is for, from the syscall that made it. */
static __always_inline void ubc_flock_note_request(struct ubc_flock_task *task, struct file *file)
{
	struct task_struct *current = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(current);
	long nr = regs->orig_ax;
	long cmd = regs->si;

	task->pending.file = 0;
	if (nr == UBC_NR_FLOCK) {
		task->pending.list = UBC_FLOCK_LIST_FLOCK;
	} else if (nr == UBC_NR_FCNTL && cmd == UBC_F_SETLEASE) {
		task->pending.list = UBC_FLOCK_LIST_LEASE;
	} else if (nr == UBC_NR_FCNTL && (cmd == UBC_F_SETLK || cmd == UBC_F_SETLKW ||
					  cmd == UBC_F_OFD_SETLK || cmd == UBC_F_OFD_SETLKW)) {
		task->pending.list = UBC_FLOCK_LIST_POSIX;
		task->pending.owner = (__u64)current->files;
	} else {
		return; /* not from flock()/fcntl(): only its own settle can charge it */
	}
	task->pending.fd = (__u32)regs->di;
	task->pending.file = (__u64)file;
}

/* Whether the pending request's file is still at its fd in the task's table: then its inode
 * is alive and its lists can be walked. */
static __always_inline bool ubc_flock_pending_file_open(const struct ubc_flock_request *pending)
{
	struct fdtable *fdt = BPF_CORE_READ(bpf_get_current_task_btf(), files, fdt);
	struct file **files = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if (!fdt || pending->fd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	bpf_probe_read_kernel(&file, sizeof(file), &files[pending->fd]);
	return (__u64)file == pending->file;
}

/* Charges one newly listed lock object: from the reservation, else forced. */
static __always_inline void ubc_flock_charge_object(struct ubc_flock_task *task, __u64 core)
{
	struct ubc_charge_owner owner;

	if (ubc_take_reserved(&task->reservation, UBC_NUMFLOCK, &owner))
		ubc_record_owner(&ubc_flock_owner, core, &owner, UBC_NUMFLOCK);
}

/* Walks one of the inode's lock lists for uncharged objects owned by `owner` or
 * `other_owner` (POSIX: the task's files, or the file for OFD locks), or of `file`. */
static __always_inline void ubc_flock_settle_list(struct ubc_flock_task *task,
						  struct list_head *head, __u64 owner,
						  __u64 other_owner, __u64 file)
{
	__u64 link_offset = bpf_core_field_offset(struct file_lock_core, flc_list);
	/* Direct loads through read-only casts (a faulting load reads 0), not a helper call
	 * per field: the walk runs at every lock and unlock. */
	__u64 pos = (__u64)bpf_core_cast(head, struct list_head)->next;
	int i;

	bpf_for(i, 0, UBC_FLOCK_WALK)
	{
		struct file_lock_core *core;
		__u64 key;

		if (!pos || pos == (__u64)head)
			return;
		key = pos - link_offset;
		core = bpf_core_cast((void *)key, struct file_lock_core);
		__u64 lock_owner = (__u64)core->flc_owner;

		if ((owner && (lock_owner == owner || lock_owner == other_owner)) ||
		    (file && (__u64)core->flc_file == file)) {
			if (!bpf_map_lookup_elem(&ubc_flock_owner, &key))
				ubc_flock_charge_object(task, key);
		}
		pos = (__u64)bpf_core_cast((void *)pos, struct list_head)->next;
	}
	ubc_stat_inc(UBC_STAT_FLOCK_UNTRACKED);
}

/* Charges the objects on the inode's list that the request's owner (POSIX) or file (flock,
 * lease) holds and nobody charged yet. */
static __always_inline void ubc_flock_settle_lists(struct ubc_flock_task *task, struct inode *inode,
						   enum ubc_flock_list list, __u64 owner,
						   __u64 other_owner, __u64 file)
{
	struct file_lock_context *ctx = BPF_CORE_READ(inode, i_flctx);

	if (!ctx)
		return;
	if (list == UBC_FLOCK_LIST_POSIX)
		ubc_flock_settle_list(task, &ctx->flc_posix, owner, other_owner, 0);
	else if (list == UBC_FLOCK_LIST_FLOCK)
		ubc_flock_settle_list(task, &ctx->flc_flock, 0, 0, file);
	else
		ubc_flock_settle_list(task, &ctx->flc_lease, 0, 0, file);
}

/* After a request: charge the new objects it listed, return an unused reservation. */
static __always_inline void ubc_flock_settle(struct inode *inode, enum ubc_flock_list list,
					     __u64 owner, __u64 other_owner, __u64 file, int ret)
{
	struct ubc_flock_task *task;
	struct ubc_ct_ref ct;

	if (!ubc_current_ct(&ct))
		return;
	/* Preempted in here, this task would make the next settle on this CPU a recursion miss. */
	bpf_preempt_disable();
	task = bpf_task_storage_get(&ubc_flock_task, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (task) {
		if (ret >= 0)
			ubc_flock_settle_lists(task, inode, list, owner, other_owner, file);
		if (ret != UBC_FILE_LOCK_DEFERRED)
			ubc_flock_release_reservation(task);
	}
	bpf_preempt_enable();
}

/* At the task's next request (or exit): a reservation still held with a request pending
 * means that request's settle program was skipped; settle it now if that is safe. */
static __always_inline void ubc_flock_settle_skipped(struct ubc_flock_task *task, bool exiting)
{
	struct ubc_flock_request *pending = &task->pending;
	struct file *file;

	if (!task->reservation.amount || !pending->file)
		return;
	if (exiting || !ubc_flock_pending_file_open(pending)) {
		ubc_stat_inc(UBC_STAT_FLOCK_SETTLE_LOST);
		return;
	}
	file = (struct file *)pending->file;
	ubc_flock_settle_lists(task, BPF_CORE_READ(file, f_inode), pending->list, pending->owner,
			       pending->file, pending->file);
	ubc_stat_inc(UBC_STAT_FLOCK_LATE_SETTLE);
}

/* What walking the request's list before it runs tells: whether it splits a lock of its
 * owner, and whether the list is too long for the settle to find the request's objects. */
struct ubc_flock_survey {
	bool splits;
	bool too_long;
};

static __always_inline struct ubc_flock_survey
ubc_flock_survey_list(struct file *file, const struct ubc_flock_request *pending,
		      const struct ubc_flock_range *range, unsigned int type)
{
	struct ubc_flock_survey survey = {.splits = false, .too_long = true};
	struct file_lock_context *ctx = file->f_inode->i_flctx;
	__u64 link_offset = bpf_core_field_offset(struct file_lock_core, flc_list);
	__u64 core_offset = bpf_core_field_offset(struct file_lock, c);
	bool posix = pending->list == UBC_FLOCK_LIST_POSIX;
	struct list_head *head, *pos;
	int i;

	if (!ctx)
		return (struct ubc_flock_survey){};
	if (posix)
		head = &ctx->flc_posix;
	else if (pending->list == UBC_FLOCK_LIST_FLOCK)
		head = &ctx->flc_flock;
	else
		head = &ctx->flc_lease;
	/* Not knowing where a POSIX request falls, assume the worst: it splits. */
	if (posix && !range->exact)
		survey.splits = true;
	/* Direct loads through read-only casts, as in ubc_flock_settle_list. */
	pos = bpf_core_cast(head, struct list_head)->next;
	bpf_for(i, 0, UBC_FLOCK_LIST_MAX)
	{
		struct file_lock *lock;
		__u64 lock_owner;

		if (!pos || pos == head) {
			survey.too_long = false;
			break;
		}
		lock = bpf_core_cast((void *)((__u64)pos - link_offset - core_offset),
				     struct file_lock);
		lock_owner = (__u64)lock->c.flc_owner;
		if (posix && range->exact && !survey.splits &&
		    (lock_owner == pending->owner || lock_owner == pending->file) &&
		    lock->fl_start < range->start && lock->fl_end > range->end &&
		    lock->c.flc_type != type)
			survey.splits = true;
		pos = bpf_core_cast(pos, struct list_head)->next;
	}
	return survey;
}

/* How many lock objects the request can add, or -1 to refuse it (a list too long). */
static __always_inline int ubc_flock_objects_needed(struct ubc_flock_task *task, struct file *file,
						    unsigned int type)
{
	int needed = type == UBC_F_UNLCK ? 0 : 1;
	struct ubc_flock_survey survey;

	if (!task->pending.file)
		return needed; /* not from flock()/fcntl(): its range and list are unknown */
	if (task->range.file != (__u64)file)
		task->range.exact = 0;
	if (task->pending.list != UBC_FLOCK_LIST_POSIX && !needed)
		return 0; /* unlocking a flock or a lease never adds an object */
	survey = ubc_flock_survey_list(file, &task->pending, &task->range, type);
	if (survey.splits)
		needed++;
	if (needed && survey.too_long) {
		ubc_stat_inc(UBC_STAT_FLOCK_LIST_FULL);
		return -1;
	}
	return needed;
}

SEC("fentry/fcntl_setlk")
int BPF_PROG(ubc_numflock_note_range, unsigned int fd, struct file *filp, unsigned int cmd,
	     struct flock *flock)
{
	struct ubc_flock_task *task;
	struct ubc_ct_ref ct;
	__s64 start, len;

	if (!ubc_current_ct(&ct))
		return 0;
	task = bpf_task_storage_get(&ubc_flock_task, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!task)
		return 0;
	start = flock->l_start;
	len = flock->l_len;
	task->range.file = (__u64)filp;
	task->range.start = start;
	task->range.end = len ? start + (len - 1) : UBC_OFFSET_MAX;
	/* SEEK_CUR and SEEK_END ranges, negative lengths and overflows: left to the kernel. */
	task->range.exact = flock->l_whence == UBC_SEEK_SET && start >= 0 && len >= 0 &&
			    (!len || len - 1 <= UBC_OFFSET_MAX - start);
	return 0;
}

SEC("lsm/file_lock")
int BPF_PROG(ubc_numflock_reserve, struct file *file, unsigned int cmd, int ret)
{
	struct ubc_flock_task *task;
	struct ubc_counter *counter;
	struct ubc_ct_ref ct;
	int needed;

	if (ret || !ubc_current_ct(&ct))
		return ret;
	task = bpf_task_storage_get(&ubc_flock_task, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!task)
		return ret;
	ubc_flock_settle_skipped(task, false);
	ubc_flock_release_reservation(task);
	ubc_flock_note_request(task, file);
	needed = ubc_flock_objects_needed(task, file, cmd);
	task->range.file = 0;
	if (needed < 0) {
		counter = &ct.ct->res[UBC_NUMFLOCK];
		ubc_refuse_for(ct.ct, counter, UBC_NUMFLOCK, 1, READ_ONCE(counter->held),
			       ubc_threshold(counter, UBC_NUMFLOCK, UBC_HARD),
			       UBC_REFUSED_LIST_FULL);
		task->pending.file = 0;
		return ubc_flock_errno();
	}
	if (needed && ubc_reserve(&task->reservation, &ct, UBC_NUMFLOCK, needed, UBC_HARD)) {
		task->pending.file = 0;
		return ubc_flock_errno();
	}
	return 0;
}

/* flock(), and POSIX locks of filesystems that take them through locks_lock_inode_wait. */
SEC("fexit/locks_lock_inode_wait")
int BPF_PROG(ubc_numflock_settle_wait, struct inode *inode, struct file_lock *fl, int ret)
{
	unsigned int flags = fl->c.flc_flags;
	__u64 owner = (__u64)fl->c.flc_owner;

	if (flags & UBC_FL_POSIX)
		ubc_flock_settle(inode, UBC_FLOCK_LIST_POSIX, owner, owner, 0, ret);
	else if (flags & UBC_FL_FLOCK)
		ubc_flock_settle(inode, UBC_FLOCK_LIST_FLOCK, 0, 0, (__u64)fl->c.flc_file, ret);
	return 0;
}

/* fcntl(F_SETLK/F_SETLKW/F_OFD_SETLK...): the owner is the task's files, or the file (OFD). */
SEC("fexit/fcntl_setlk")
int BPF_PROG(ubc_numflock_settle_posix, unsigned int fd, struct file *filp, unsigned int cmd,
	     struct flock *flock, int ret)
{
	__u64 files = (__u64)bpf_get_current_task_btf()->files;

	ubc_flock_settle(filp->f_inode, UBC_FLOCK_LIST_POSIX, files, (__u64)filp, 0, ret);
	return 0;
}

SEC("fexit/fcntl_setlease")
int BPF_PROG(ubc_numflock_settle_lease, unsigned int fd, struct file *filp, int arg, int ret)
{
	ubc_flock_settle(filp->f_inode, UBC_FLOCK_LIST_LEASE, 0, 0, (__u64)filp, ret);
	return 0;
}

/* Called under the inode's flc_lock spinlock: never preempted inside, so never skipped for
 * recursion by another task on this CPU. */
SEC("fentry/locks_unlink_lock_ctx")
int BPF_PROG(ubc_numflock_uncharge, struct file_lock_core *flc)
{
	ubc_uncharge_owned(&ubc_flock_owner, (__u64)flc, UBC_NUMFLOCK);
	return 0;
}

SEC("lsm/task_free")
int BPF_PROG(ubc_numflock_task_free, struct task_struct *task)
{
	struct ubc_flock_task *state = bpf_task_storage_get(&ubc_flock_task, task, 0, 0);

	if (state) {
		ubc_flock_settle_skipped(state, true);
		ubc_flock_release_reservation(state);
	}
	return 0;
}

#endif /* UBC_NUMFLOCK_BPF_H */
