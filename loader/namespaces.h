// Linux namespace plumbing for running a CT: a child in new namespaces inside the CT's
// cgroup, its root filesystem (pivot_root, /proc, read-only /sys, a minimal /dev with its own
// devpts), and joining a running CT's namespaces from outside.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ubc::ns {

struct UserMapping {
  unsigned host_first = 100000;  // CT uid/gid 0 is this host id
  unsigned count = 65536;
};

// clone3() into new pid, mount, uts, ipc, net and cgroup namespaces (and a user namespace if
// `user_namespace`), starting in the cgroup open as `cgroup_fd`, so that the child's cgroup
// namespace is rooted at the CT's cgroup. Returns the child's pid in the parent, 0 in the
// child (which is PID 1 of its pid namespace).
pid_t clone_into_namespaces(int cgroup_fd, bool user_namespace);

// Writes the child's uid_map and gid_map (from the parent).
void map_user_namespace(pid_t child, const UserMapping& mapping);

// A host device node bound into the CT's /dev (vzctl --devnodes).
struct DeviceNode {
  std::string name;  // relative to /dev, e.g. "ttyS0"
  bool writable = true;
  bool readable = true;  // false for vzctl's w (write only)
};

// The nodes every CT's /dev has: null, zero, full, random, urandom, tty (read-write).
const std::vector<DeviceNode>& standard_device_nodes();

// In the child: makes `root` its root filesystem (nodev) with a fresh /proc, /sys read-only
// with the CT's cgroup hierarchy on /sys/fs/cgroup, the kernel's host-wide paths in both
// masked (loader/masked_paths.h), a tmpfs /run, a tmpfs /dev holding null, zero, full, random, urandom, tty, the
// granted device nodes and a devpts instance of its own (with /dev/ptmx), then pivot_root()s into it and detaches the
// old root. With `proc_view`, /proc is the CT's /proc view (loader/proc_view.h), else a plain procfs. `systemd_mounts`:
// also a tmpfs on /tmp and /run/lock, which systemd's own units would mount and the CT (no CAP_SYS_ADMIN) cannot.
struct ProcViewHandles {
  int view_mount;     // from create_proc_view
  int server_socket;  // the view's server is at its other end
  // The kernel's procfs on /proc with the view's files over it (attach_proc_files), for an
  // init that insists on procfs (systemd); else the whole view (attach_proc_view).
  bool over_procfs = false;
};
// `console`: the path (in the host's /dev/pts) of a pty slave bound onto the CT's /dev/console.
void enter_root_filesystem(const std::filesystem::path& root, const std::vector<DeviceNode>& devices,
                           std::optional<ProcViewHandles> proc_view, bool systemd_mounts = false,
                           const std::filesystem::path& console = {});

// Joins every namespace of the running process `pid` (user first when it has its own), so
// that children of the caller run inside them. The caller's own pid namespace membership
// does not change: fork after this.
void join_namespaces(pid_t pid);

// Runs `work` on a thread of its own inside the network namespace of `pid` (what network
// state the kernel shows depends on it), or right here when `pid` shares ours. The caller's
// namespaces never change. Exceptions from `work` reach the caller.
void run_in_network_namespace(pid_t pid, const std::function<void()>& work);

// Mount points at or below `dir` in this process's mount namespace (mountinfo), so that
// removing a tree never reaches through a mount into another file system's files.
std::vector<std::filesystem::path> mounts_under(const std::filesystem::path& dir);

// Whether `pid` (a thread id too) is in our namespace of `kind` ("pid", "user", "net" ...,
// as /proc/PID/ns names them); none when either cannot be read (the task is gone).
std::optional<bool> shares_our_namespace(pid_t pid, const char* kind);

// Whether `pid` lives in a user namespace other than ours.
bool has_own_user_namespace(pid_t pid);

// The host uid that is root inside `pid`'s user namespace (0 when it shares ours).
unsigned root_host_id(pid_t pid);

// sethostname() in the UTS namespace of `pid`, from a child that joins it alone.
void set_hostname_of(pid_t pid, const std::string& hostname);

}  // namespace ubc::ns
