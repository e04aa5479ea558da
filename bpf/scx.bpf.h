/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The sched_ext idioms ubc's scheduler is written in, as the kernel's example schedulers
 * spell them: struct_ops callbacks declared by name, an error that ejects the scheduler
 * with a message (the kernel then falls back to its fair class and user space reads why),
 * and virtual times compared so that they may wrap. */
#ifndef UBC_SCX_BPF_H
#define UBC_SCX_BPF_H

#include "kernel.bpf.h"

#define BPF_STRUCT_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

/* For states that must not happen: the kernel unloads the scheduler, and ops.exit records
 * this message for `ubcctl sched status`. Up to 12 arguments, as bpf_snprintf. */
/* clang-format off */
#define scx_bpf_error(fmt, args...)                                                 \
	({                                                                          \
		static char ___fmt[] = fmt;                                         \
		unsigned long long ___param[___bpf_narg(args)];                     \
                                                                                    \
		_Pragma("GCC diagnostic push")                                      \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")             \
		___bpf_fill(___param, args);                                        \
		_Pragma("GCC diagnostic pop")                                       \
		scx_bpf_error_bstr(___fmt, ___param, sizeof(___param));             \
	})
/* clang-format on */

/* Whether virtual time `a` comes before `b`, also across a wrap of the 64-bit counter. */
static __always_inline bool vtime_before(__u64 a, __u64 b)
{
	return (__s64)(a - b) < 0;
}

#endif /* UBC_SCX_BPF_H */
