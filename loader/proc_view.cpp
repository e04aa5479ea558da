#include "loader/proc_view.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

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

void attach_proc_view(const fs::path& proc_dir, int view_mount, int server_socket) {
  if (::move_mount(view_mount, "", AT_FDCWD, proc_dir.c_str(), MOVE_MOUNT_F_EMPTY_PATH))
    throw_system_error("move_mount(/proc view on " + proc_dir.string() + ")");

  const UniqueFd context(::fsopen("proc", FSOPEN_CLOEXEC));
  if (!context) throw_system_error("fsopen(proc)");
  if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0)) throw_system_error("fsconfig(proc, create)");
  const UniqueFd procfs(
      ::fsmount(context.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (!procfs) throw_system_error("fsmount(proc)");

  send_fd(server_socket, procfs.get(), "the CT's procfs, to ubc-procfs");

  const fs::path real = proc_dir / kRealProcName;
  if (::move_mount(procfs.get(), "", AT_FDCWD, real.c_str(), MOVE_MOUNT_F_EMPTY_PATH))
    throw_system_error("move_mount(proc on " + real.string() + ")");
}

void cover_cpu_online(const fs::path& proc_dir, const fs::path& sys_dir) {
  const fs::path view_file = proc_dir / kCpuOnlineName, online = sys_dir / "devices/system/cpu/online";
  if (::mount(view_file.c_str(), online.c_str(), nullptr, MS_BIND, nullptr))
    throw_system_error("mount(" + view_file.string() + " on " + online.string() + ", bind)");
  if (::mount(nullptr, online.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr))
    throw_system_error("mount(" + online.string() + ", remount read-only)");
}

UniqueFd receive_ct_procfs(int socket) {
  UniqueFd procfs = receive_fd(socket);
  if (!procfs) throw std::runtime_error("the CT ended before it mounted its /proc");
  return procfs;
}

}  // namespace ubc::ns
