/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The file hooks several rows share: one program each, calling every row's step in turn,
 * so that opening or freeing a file enters BPF once (and finds its CT once) instead of once
 * per row. A row that acts at these hooks adds its step here; its own header keeps the step.
 */
#ifndef UBC_FILE_HOOKS_BPF_H
#define UBC_FILE_HOOKS_BPF_H

#include "devices.bpf.h"
#include "numfile.bpf.h"
#include "numpty.bpf.h"

/* A device the CT may not open is refused before anything is charged for it. */
SEC("lsm/file_open")
int BPF_PROG(ubc_file_open, struct file *file, int ret)
{
	struct ubc_ct_ref ct;

	if (ret || !ubc_current_ct(&ct))
		return ret;
	ret = ubc_device_on_open(file, &ct);
	if (!ret)
		ret = ubc_numfile_on_open(file, &ct);
	if (!ret)
		ret = ubc_numpty_on_open(file, &ct);
	return ret;
}

SEC("lsm/file_free_security")
int BPF_PROG(ubc_file_free, struct file *file)
{
	ubc_numfile_on_free(file);
	ubc_numpty_on_free(file);
	return 0;
}

#endif /* UBC_FILE_HOOKS_BPF_H */
