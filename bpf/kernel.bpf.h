/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What every BPF source of ubc builds on: the kernel's types (vmlinux.h), libbpf's helpers,
 * the errno values (vmlinux.h has no macros) and the one-time access macros. Each header in
 * bpf/ includes this, directly or through another, so that it compiles on its own. */
#ifndef UBC_KERNEL_BPF_H
#define UBC_KERNEL_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <asm-generic/errno.h>

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#endif
#ifndef WRITE_ONCE
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#endif

#endif /* UBC_KERNEL_BPF_H */
