// The kernel side of a CT's /proc view. procfs cannot gain a file (no create, and overlayfs
// refuses it as a layer), so a CT's /proc is a small FUSE file system instead: it holds
// user_beancounters, and every other name is a symlink into the CT's real procfs, mounted
// under it at /proc/.procfs. Only the first component goes through FUSE; everything below
// it (magic links such as /proc/self/fd/N and /proc/PID/exe included) is real procfs.
//
// The host makes the FUSE mount (FUSE wants the mount made in the user namespace that
// opened /dev/fuse, and a CT's root may not open it), the CT's init-to-be attaches it and a
// procfs of its own pid namespace, and the view's server (tools/ubc-procfs, a host process)
// answers for it.
#pragma once

#include <sys/types.h>

#include <array>
#include <filesystem>

#include "loader/unique_fd.h"

namespace ubc::ns {

// The real procfs under the view, relative to the view's root.
inline constexpr const char* kRealProcName = ".procfs";

// A hidden file of the view: the CT's CPUs as /sys/devices/system/cpu/online lists them,
// bound over that file (glibc's sysconf(_SC_NPROCESSORS_ONLN) reads it).
inline constexpr const char* kCpuOnlineName = ".cpu_online";

// The view's files that stand for procfs files of the same name. A CT that runs systemd gets
// the kernel's procfs on /proc (systemd-tmpfiles and systemctl insist on procfs there) with
// these bound over it, as lxcfs does, and no user_beancounters (procfs cannot gain a name).
inline constexpr std::array<const char*, 7> kOverlaidProcFiles{"meminfo", "swaps",   "uptime",   "stat",
                                                               "cpuinfo", "loadavg", "diskstats"};

// Whether this host can serve a view (/dev/fuse opens).
bool proc_view_available();

struct ProcViewMount {
  UniqueFd connection;  // /dev/fuse: the server's end
  UniqueFd mount;       // the view, mounted nowhere yet
};

// On the host, before the CT's init-to-be is cloned: a read-only FUSE mount whose files
// belong to `root_uid`/`root_gid` (the CT's root as the host sees it), readable from
// inside the CT.
ProcViewMount create_proc_view(uid_t root_uid, gid_t root_gid);

// In the CT's init-to-be, before pivot_root: attaches the view (`view_mount`) on
// `proc_dir` and a fresh procfs of the CT's pid namespace under it. The server at the other
// end of `server_socket` gets that procfs first: it lists its names, and answers the
// lookup the second mount makes.
void attach_proc_view(const std::filesystem::path& proc_dir, int view_mount, int server_socket);

// In the CT's init-to-be, before pivot_root, instead of attach_proc_view: mounts a procfs
// of the CT's pid namespace on `proc_dir` (the server gets it too) and binds the view's
// kOverlaidProcFiles over its files, read-only. Returns the view's kCpuOnlineName, a
// detached mount for cover_cpu_online.
UniqueFd attach_proc_files(const std::filesystem::path& proc_dir, int view_mount, int server_socket);

// In the CT's init-to-be, after attach_proc_view or attach_proc_files and with the CT's sysfs
// on `sys_dir`: binds the view's kCpuOnlineName (`cpu_online`, a detached mount, or else the
// file under `proc_dir`) over sysfs's devices/system/cpu/online, read-only.
void cover_cpu_online(const std::filesystem::path& proc_dir, const std::filesystem::path& sys_dir, int cpu_online = -1);

// In the server: waits for attach_proc_view's procfs. Throws when the CT died first.
UniqueFd receive_ct_procfs(int socket);

}  // namespace ubc::ns
