#include "loader/masked_paths.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "loader/error.h"

namespace ubc::ns {
namespace fs = std::filesystem;

const std::vector<MaskedPath>& masked_proc_paths() {
  static const std::vector<MaskedPath> paths{
      // The kernel's memory, keys, timers and scheduler state, and hardware.
      {"kcore", Mask::hidden},
      {"kmsg", Mask::hidden},
      {"keys", Mask::hidden},
      {"key-users", Mask::hidden},
      {"latency_stats", Mask::hidden},
      {"timer_list", Mask::hidden},
      {"timer_stats", Mask::hidden},
      {"sched_debug", Mask::hidden},
      {"acpi", Mask::hidden},
      {"asound", Mask::hidden},
      {"scsi", Mask::hidden},
      // Host-wide settings: readable, never writable (core_pattern runs a program as host root).
      {"sys", Mask::read_only},
      {"sysrq-trigger", Mask::read_only},
      {"bus", Mask::read_only},
      {"fs", Mask::read_only},
      {"irq", Mask::read_only},
      // The CT's own network namespace's settings (LXC's proc:mixed).
      {"sys/net", Mask::writable},
  };
  return paths;
}

const std::vector<MaskedPath>& masked_sys_paths() {
  static const std::vector<MaskedPath> paths{
      {"firmware", Mask::hidden},        {"devices/virtual/powercap", Mask::hidden},
      {"kernel/security", Mask::hidden}, {"kernel/debug", Mask::hidden},
      {"fs/bpf", Mask::hidden},
  };
  return paths;
}

namespace {

void set_read_only(const fs::path& path, bool read_only) {
  mount_attr attr{};
  (read_only ? attr.attr_set : attr.attr_clr) = MOUNT_ATTR_RDONLY;
  attr.attr_set |= MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  if (::mount_setattr(AT_FDCWD, path.c_str(), 0, &attr, sizeof attr))
    throw_system_error("mount_setattr(" + path.string() + (read_only ? ", read-only)" : ", read-write)"));
}

void apply(const fs::path& path, Mask mask, const fs::path& null_device) {
  struct stat info {};
  if (::lstat(path.c_str(), &info)) {
    if (errno == ENOENT) return;
    throw_system_error("lstat(" + path.string() + ")");
  }
  if (mask == Mask::hidden) {
    if (S_ISDIR(info.st_mode)) {
      if (::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=555"))
        throw_system_error("mount(empty tmpfs over " + path.string() + ")");
    } else if (::mount(null_device.c_str(), path.c_str(), nullptr, MS_BIND, nullptr)) {
      throw_system_error("mount(/dev/null over " + path.string() + ")");
    } else {
      set_read_only(path, true);
    }
    return;
  }
  if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr))
    throw_system_error("mount(bind " + path.string() + ")");
  set_read_only(path, mask == Mask::read_only);
}

}  // namespace

void mask_kernel_paths(const fs::path& procfs, const fs::path& sysfs, const fs::path& null_device) {
  for (const auto& [path, mask] : masked_proc_paths()) apply(procfs / path, mask, null_device);
  for (const auto& [path, mask] : masked_sys_paths()) apply(sysfs / path, mask, null_device);
}

}  // namespace ubc::ns
