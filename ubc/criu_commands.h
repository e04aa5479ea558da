// The CRIU command lines ubc runs for a CT's checkpoint and restore (docs/CHECKPOINT.md has
// why each option is there). Pure: the tests read them as they are.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace ubc {

// CRIU's key for a terminal the CT reached from outside (its console pty): "tty[RDEV:DEV]",
// the slave's st_rdev and st_dev in hex, as runc gives it.
std::string criu_tty_key(dev_t rdev, dev_t dev);

// The names the CT's external mounts carry in a checkpoint: its /proc view and /dev/console.
inline constexpr const char* kCriuProcViewKey = "ubc-proc";
inline constexpr const char* kCriuConsoleKey = "ubc-console";
inline constexpr const char* kCriuCgroupKey = "ubc-cgroup";

// CRIU reads and makes cgroups through a "yard" of cgroup mounts; left to itself it mounts
// cgroup2 there, and a new mount of cgroup2 from the host's cgroup namespace resets the
// hierarchy's options to its own: nsdelegate, which keeps every CT's limits and
// cgroup.freeze out of its reach, would be gone host-wide. So ubc gives it a yard whose
// cgroup2 is a bind of the host's mount, at this path below the yard.
std::filesystem::path criu_cgroup_yard_mount(const std::filesystem::path& yard);

struct CriuDump {
  pid_t init;                         // in the host's numbering
  std::filesystem::path cgroup;       // the CT's: CRIU freezes it (it is frozen already)
  std::filesystem::path dir;          // images and dump.log
  std::string console;                // criu_tty_key of init's console, empty for none
  bool console_mount = false;         // /dev/console is a bind of that pty
  std::filesystem::path cgroup_yard;  // see criu_cgroup_yard_mount
  // A pre-dump this dump adds to (its pages are not dumped again unless they changed since),
  // relative to `dir`; empty for a whole dump.
  std::string parent;
  // The CT's tasks left as they were (suspended) rather than killed once dumped.
  bool leave_running = false;
};
std::vector<std::string> criu_dump_arguments(const CriuDump& dump);

// A pre-dump: the CT's memory saved while it runs (frozen only for the moment CRIU takes
// it), the pages' dirty tracking reset, so that the next (pre-)dump saves what changed.
std::vector<std::string> criu_pre_dump_arguments(const CriuDump& dump);

// The directory of a CT's checkpoint that holds its pre-dump `round` (1, 2, ...).
std::string pre_dump_name(int round);

struct CriuRestore {
  std::filesystem::path root;          // the CT's VE_ROOT
  std::filesystem::path dir;           // the checkpoint
  std::filesystem::path proc_view;     // the new view, mounted at this host path
  std::string console;                 // the dump's criu_tty_key, empty for none
  int console_fd = -1;                 // the new console pty's slave, inherited by CRIU
  std::filesystem::path console_path;  // its path, for /dev/console
  std::filesystem::path pid_file;      // where CRIU writes the restored init's pid
  std::filesystem::path cgroup;        // the CT's, bound on its /sys/fs/cgroup
  std::filesystem::path cgroup_yard;   // see criu_cgroup_yard_mount
  std::string host_veth;               // the host's end of the CT's veth pair, empty for none
  std::string cgroup_root;             // the CT's cgroup below the cgroup2 mount: "/ubc/101"
};
std::vector<std::string> criu_restore_arguments(const CriuRestore& restore);

}  // namespace ubc
