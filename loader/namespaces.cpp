#include "loader/namespaces.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "loader/error.h"
#include "loader/masked_paths.h"
#include "loader/mountinfo.h"
#include "loader/proc_view.h"
#include "loader/unique_fd.h"

namespace ubc::ns {
namespace fs = std::filesystem;

namespace {

void mount_or_throw(const char* source, const fs::path& target, const char* type, unsigned long flags,
                    const char* data = nullptr) {
  if (::mount(source, target.c_str(), type, flags, data))
    throw_system_error(std::string("mount(") + (type ? type : source ? source : "") + " on " + target.string() + ")");
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  out.flush();
  if (!out) throw_system_error("write(" + file.string() + ")");
}

// A host device node, bound onto an empty file in the CT's /dev: works in a user namespace,
// where mknod does not.
void bind_device(const fs::path& dev, const DeviceNode& node) {
  const fs::path host = fs::path("/dev") / node.name;
  const fs::path target = dev / node.name;
  fs::create_directories(target.parent_path());
  // O_EXCL: never open what is there already (a standard node granted again, whose access
  // the engine's device rules narrow), which would be opening the device itself.
  UniqueFd placeholder(::open(target.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (!placeholder && errno == EEXIST) return;
  if (!placeholder) throw_system_error("creating " + target.string());
  mount_or_throw(host.c_str(), target, nullptr, MS_BIND);
  if (!node.writable) mount_or_throw(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY);
}

// Each run of a CT is a boot of its own (journald files its logs by boot id, and
// `journalctl --list-boots` lists them): a fresh random id, bound read-only over the
// kernel's boot_id. Its source, written on the CT's /dev tmpfs, is unlinked once bound.
void give_own_boot_id(const fs::path& proc, const fs::path& dev) {
  std::ifstream fresh("/proc/sys/kernel/random/uuid");
  std::string id;
  if (!std::getline(fresh, id) || id.empty()) throw_system_error("reading /proc/sys/kernel/random/uuid");
  const fs::path source = dev / ".boot_id";
  write_text(source, id + "\n");
  const fs::path target = proc / "sys/kernel/random/boot_id";
  mount_or_throw(source.c_str(), target, nullptr, MS_BIND);
  mount_or_throw(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  fs::remove(source);
}

}  // namespace

const std::vector<DeviceNode>& standard_device_nodes() {
  static const std::vector<DeviceNode> nodes{{"null", true},   {"zero", true},    {"full", true},
                                             {"random", true}, {"urandom", true}, {"tty", true}};
  return nodes;
}

pid_t clone_into_namespaces(int cgroup_fd, bool user_namespace) {
  clone_args args{};
  args.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP |
               CLONE_INTO_CGROUP | (user_namespace ? CLONE_NEWUSER : 0);
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<__u64>(cgroup_fd);
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) throw_system_error("clone3(new pid, mount, uts, ipc, net, cgroup namespaces)");
  return static_cast<pid_t>(pid);
}

void map_user_namespace(pid_t child, const UserMapping& mapping) {
  const std::string line = "0 " + std::to_string(mapping.host_first) + " " + std::to_string(mapping.count) + "\n";
  const fs::path proc = "/proc/" + std::to_string(child);
  write_text(proc / "uid_map", line);
  write_text(proc / "gid_map", line);
}

void enter_root_filesystem(const fs::path& root, const std::vector<DeviceNode>& devices,
                           std::optional<ProcViewHandles> proc_view, bool systemd_mounts, const fs::path& console) {
  // Nothing mounted from here on may reach the host's mount namespace.
  mount_or_throw(nullptr, "/", nullptr, MS_REC | MS_PRIVATE);
  mount_or_throw(root.c_str(), root, nullptr, MS_BIND | MS_REC);
  // Device nodes in the CT's files are inert: its /dev is the one built below.
  mount_attr no_devices{};
  no_devices.attr_set = MOUNT_ATTR_NODEV;
  if (::mount_setattr(AT_FDCWD, root.c_str(), AT_RECURSIVE, &no_devices, sizeof no_devices))
    throw_system_error("mount_setattr(" + root.string() + ", nodev)");

  const fs::path proc = root / "proc", sys = root / "sys", dev = root / "dev";
  for (const auto& dir : {proc, sys, dev}) fs::create_directories(dir);
  UniqueFd cpu_online;
  if (proc_view && proc_view->over_procfs)
    cpu_online = attach_proc_files(proc, proc_view->view_mount, proc_view->server_socket);
  else if (proc_view)
    attach_proc_view(proc, proc_view->view_mount, proc_view->server_socket);
  else
    mount_or_throw("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mount_or_throw("sysfs", sys, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
  if (proc_view) cover_cpu_online(proc, sys, cpu_online ? cpu_online.get() : -1);
  // The CT's cgroup as the root of the hierarchy (its cgroup namespace): its init manages
  // the cgroups below; nsdelegate keeps the CT's own limit files out of its reach.
  mount_or_throw("cgroup2", sys / "fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  // As systemd would mount it (it expects a fresh tmpfs); charged to the CT's memory.
  const fs::path run = root / "run";
  fs::create_directories(run);
  mount_or_throw("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=755,size=20%,nr_inodes=800k");
  if (systemd_mounts) {
    // What Debian's tmp.mount and run-lock.mount would mount, so that they are active.
    fs::create_directories(run / "lock");
    mount_or_throw("tmpfs", run / "lock", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=5242880");
    fs::create_directories(root / "tmp");
    mount_or_throw("tmpfs", root / "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=50%,nr_inodes=1m");
  }
  mount_or_throw("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  for (const auto& node : standard_device_nodes()) bind_device(dev, node);
  for (const auto& node : devices) bind_device(dev, node);
  fs::create_directories(dev / "pts");
  mount_or_throw("devpts", dev / "pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  fs::create_symlink("pts/ptmx", dev / "ptmx");
  if (!console.empty()) {
    // The host's pty, so that its master stays on the host (ubc-console); the CT sees this
    // one slave and none of the host's other terminals.
    UniqueFd placeholder(::open((dev / "console").c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    if (!placeholder) throw_system_error("creating " + (dev / "console").string());
    mount_or_throw(console.c_str(), dev / "console", nullptr, MS_BIND);
  }
  fs::create_directories(dev / "shm");
  mount_or_throw("tmpfs", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  const fs::path real_proc = proc_view && !proc_view->over_procfs ? proc / kRealProcName : proc;
  mask_kernel_paths(real_proc, sys, dev / "null");
  give_own_boot_id(real_proc, dev);

  // pivot_root(".", "."): the old root ends up stacked under the new one and is detached
  // at once, so nothing of the host's tree stays reachable, not even by "..".
  if (::chdir(root.c_str())) throw_system_error("chdir(" + root.string() + ")");
  if (::syscall(SYS_pivot_root, ".", ".")) throw_system_error("pivot_root(" + root.string() + ")");
  if (::umount2(".", MNT_DETACH)) throw_system_error("umount2(old root)");
  if (::chdir("/")) throw_system_error("chdir(/)");
}

void run_in_network_namespace(pid_t pid, const std::function<void()>& work) {
  const std::string theirs_path = "/proc/" + std::to_string(pid) + "/ns/net";
  struct stat ours {
  }, theirs{};
  if (::stat("/proc/self/ns/net", &ours)) throw_system_error("stat(/proc/self/ns/net)");
  if (::stat(theirs_path.c_str(), &theirs)) throw_system_error("stat(" + theirs_path + ")");
  if (ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev) {
    work();
    return;
  }
  UniqueFd namespace_fd(::open(theirs_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!namespace_fd) throw_system_error("open(" + theirs_path + ")");
  std::exception_ptr failure;
  std::thread inside([&] {
    try {
      if (::setns(namespace_fd.get(), CLONE_NEWNET)) throw_system_error("setns(" + theirs_path + ")");
      work();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  inside.join();
  if (failure) std::rethrow_exception(failure);
}

std::vector<fs::path> mounts_under(const fs::path& dir) {
  const std::string base = fs::weakly_canonical(dir).string();
  std::vector<fs::path> found;
  for (const auto& mount : read_mountinfo()) {
    const std::string path = mount.mount_point.string();
    if (path == base || path.starts_with(base + "/")) found.push_back(mount.mount_point);
  }
  return found;
}

std::optional<bool> shares_our_namespace(pid_t pid, const char* kind) {
  struct stat ours {
  }, theirs{};
  if (::stat((std::string("/proc/self/ns/") + kind).c_str(), &ours) ||
      ::stat(("/proc/" + std::to_string(pid) + "/ns/" + kind).c_str(), &theirs))
    return std::nullopt;
  return ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev;
}

bool has_own_user_namespace(pid_t pid) {
  const auto shared = shares_our_namespace(pid, "user");
  return shared && !*shared;
}

unsigned root_host_id(pid_t pid) {
  if (!has_own_user_namespace(pid)) return 0;
  std::ifstream map("/proc/" + std::to_string(pid) + "/uid_map");
  for (unsigned inside = 0, outside = 0, count = 0; map >> inside >> outside >> count;)
    if (inside == 0) return outside;
  throw std::runtime_error("pid " + std::to_string(pid) + " has no root in its user namespace");
}

void set_hostname_of(pid_t pid, const std::string& hostname) {
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/uts";
  const UniqueFd uts(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!uts) throw_system_error("open(" + path + ")");
  const pid_t child = ::fork();
  if (child < 0) throw_system_error("fork");
  if (child == 0) {
    const bool done = ::setns(uts.get(), CLONE_NEWUTS) == 0 && ::sethostname(hostname.data(), hostname.size()) == 0;
    ::_exit(done ? 0 : errno);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) throw_system_error("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    errno = WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
    throw_system_error("sethostname(" + hostname + ") in the UTS namespace of pid " + std::to_string(pid));
  }
}

void join_namespaces(pid_t pid) {
  const fs::path dir = "/proc/" + std::to_string(pid) + "/ns";
  // Open them all first: after joining the mount namespace, /proc is the CT's.
  std::vector<std::pair<UniqueFd, const char*>> namespaces;
  const bool user = has_own_user_namespace(pid);
  for (const char* name : {"user", "cgroup", "ipc", "uts", "net", "pid", "mnt"}) {
    if (std::string(name) == "user" && !user) continue;
    UniqueFd fd(::open((dir / name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_system_error("open(" + (dir / name).string() + ")");
    namespaces.emplace_back(std::move(fd), name);
  }
  for (auto& [fd, name] : namespaces)
    if (::setns(fd.get(), 0)) throw_system_error(std::string("setns(") + name + " of pid " + std::to_string(pid) + ")");
  if (::chdir("/")) throw_system_error("chdir(/)");
}

}  // namespace ubc::ns
