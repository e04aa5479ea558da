#include "loader/proc_view.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "loader/error.h"
#include "loader/fd_passing.h"

namespace ubc::ns {
namespace fs = std::filesystem;

namespace {

void set_string(int context, const char* key, const std::string& value) {
  if (::fsconfig(context, FSCONFIG_SET_STRING, key, value.c_str(), 0))
    throw_system_error(std::string("fsconfig(fuse, ") + key + "=" + value + ")");
}

void set_flag(int context, const char* key) {
  if (::fsconfig(context, FSCONFIG_SET_FLAG, key, nullptr, 0))
    throw_system_error(std::string("fsconfig(fuse, ") + key + ")");
}

}  // namespace

bool proc_view_available() {
  const UniqueFd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  return static_cast<bool>(fuse);
}

ProcViewMount create_proc_view(uid_t root_uid, gid_t root_gid) {
  ProcViewMount view;
  view.connection.reset(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!view.connection) throw_system_error("open(/dev/fuse)");
  const UniqueFd context(::fsopen("fuse", FSOPEN_CLOEXEC));
  if (!context) throw_system_error("fsopen(fuse)");
  char rootmode[16];
  std::snprintf(rootmode, sizeof rootmode, "%o", S_IFDIR | 0555);  // the kernel reads it in octal
  set_string(context.get(), "source", "ubc-procfs");
  set_string(context.get(), "subtype", "ubc-procfs");
  set_string(context.get(), "fd", std::to_string(view.connection.get()));
  set_string(context.get(), "rootmode", rootmode);
  set_string(context.get(), "user_id", std::to_string(root_uid));
  set_string(context.get(), "group_id", std::to_string(root_gid));
  set_flag(context.get(), "allow_other");  // any uid of the CT, not only its root, sees /proc
  set_flag(context.get(), "default_permissions");
  if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0)) throw_system_error("fsconfig(fuse, create)");
  view.mount.reset(::fsmount(context.get(), FSMOUNT_CLOEXEC,
                             MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (!view.mount) throw_system_error("fsmount(fuse)");
  return view;
}

namespace {

// A procfs of the calling process's pid namespace, mounted nowhere yet.
UniqueFd new_procfs() {
  const UniqueFd context(::fsopen("proc", FSOPEN_CLOEXEC));
  if (!context) throw_system_error("fsopen(proc)");
  if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0)) throw_system_error("fsconfig(proc, create)");
  UniqueFd procfs(::fsmount(context.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (!procfs) throw_system_error("fsmount(proc)");
  return procfs;
}

void send_procfs(int server_socket, int procfs) {
  send_fd(server_socket, procfs, "the CT's procfs, to ubc-procfs");
}

void move_mount_onto(int mount, const fs::path& target, const std::string& what) {
  if (::move_mount(mount, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH))
    throw_system_error("move_mount(" + what + " on " + target.string() + ")");
}

void make_read_only(const fs::path& path) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  if (::mount_setattr(AT_FDCWD, path.c_str(), 0, &attr, sizeof attr))
    throw_system_error("mount_setattr(" + path.string() + ", read-only)");
}

}  // namespace

void attach_proc_view(const fs::path& proc_dir, int view_mount, int server_socket) {
  move_mount_onto(view_mount, proc_dir, "the /proc view");
  const UniqueFd procfs = new_procfs();
  send_procfs(server_socket, procfs.get());
  move_mount_onto(procfs.get(), proc_dir / kRealProcName, "proc");
}

UniqueFd attach_proc_files(const fs::path& proc_dir, int view_mount, int server_socket) {
  // The server answers only once it has the CT's procfs: one of its own, which the view's
  // files are not bound over (it reads loadavg there, and would open its own file).
  send_procfs(server_socket, new_procfs().get());
  const UniqueFd procfs = new_procfs();
  // Files are cut out of the view while it is mounted (open_tree clones only what is in the
  // caller's mount namespace); the view itself then leaves, and its files stay.
  move_mount_onto(view_mount, proc_dir, "the /proc view");
  auto clone_of = [&proc_dir](const char* name) {
    const fs::path file = proc_dir / name;
    UniqueFd clone(static_cast<int>(::open_tree(AT_FDCWD, file.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
    if (!clone) throw_system_error("open_tree(" + file.string() + ")");
    return clone;
  };
  std::vector<UniqueFd> files;
  for (const char* name : kOverlaidProcFiles) files.push_back(clone_of(name));
  UniqueFd cpu_online = clone_of(kCpuOnlineName);
  if (::umount2(proc_dir.c_str(), MNT_DETACH)) throw_system_error("umount2(" + proc_dir.string() + ")");
  move_mount_onto(procfs.get(), proc_dir, "proc");
  for (std::size_t i = 0; i < files.size(); ++i) {
    const fs::path target = proc_dir / kOverlaidProcFiles[i];
    move_mount_onto(files[i].get(), target, "the view's file");
    make_read_only(target);
  }
  return cpu_online;
}

void cover_cpu_online(const fs::path& proc_dir, const fs::path& sys_dir, int cpu_online) {
  const fs::path view_file = proc_dir / kCpuOnlineName, online = sys_dir / "devices/system/cpu/online";
  if (cpu_online >= 0)
    move_mount_onto(cpu_online, online, "the view's " + std::string(kCpuOnlineName));
  else if (::mount(view_file.c_str(), online.c_str(), nullptr, MS_BIND, nullptr))
    throw_system_error("mount(" + view_file.string() + " on " + online.string() + ", bind)");
  make_read_only(online);
}

UniqueFd receive_ct_procfs(int socket) {
  UniqueFd procfs = receive_fd(socket);
  if (!procfs) throw std::runtime_error("the CT ended before it mounted its /proc");
  return procfs;
}

}  // namespace ubc::ns
