// The parts of procfs and sysfs that reach the host's kernel rather than the CT's
// namespaces, hidden or made read-only in every CT, as runc, LXC and Incus do. The lists
// live here and nowhere else; docs/CONTAINERS.md and the escape tests read them.
#pragma once

#include <filesystem>
#include <vector>

namespace ubc::ns {

enum class Mask {
  hidden,     // a file reads as empty (/dev/null over it), a directory as an empty tmpfs
  read_only,  // a read-only bind of itself
  writable,   // a read-write bind of itself, under a read-only one (the CT's own namespace's)
};

struct MaskedPath {
  const char* path;  // relative to /proc or /sys
  Mask mask;
};

// In the order they are applied: a writable hole comes after the read-only path above it.
const std::vector<MaskedPath>& masked_proc_paths();
const std::vector<MaskedPath>& masked_sys_paths();

// In the CT's mount namespace, before pivot_root: masks a procfs mounted at `procfs` and a
// sysfs at `sysfs`. `null_device` is a /dev/null node to bind over hidden files. Paths the
// kernel does not have are skipped. The CT's root cannot undo a mask: it has no
// CAP_SYS_ADMIN, and in a nested user namespace the kernel locks these mounts.
void mask_kernel_paths(const std::filesystem::path& procfs, const std::filesystem::path& sysfs,
                       const std::filesystem::path& null_device);

}  // namespace ubc::ns
