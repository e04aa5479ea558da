#include "ubc/criu_commands.h"

#include <cstdio>

namespace ubc {

namespace {

// What both directions share: established TCP connections and file locks are the CT's
// state; CRIU's cgroup handling is off because the CT's cgroup is ubc's (CRIU runs inside
// it at restore); its default network lock runs iptables, which a modern host lacks.
void add_common(std::vector<std::string>& args, const std::filesystem::path& dir, const char* log) {
  args.insert(args.end(), {"-D", dir.string(), "-o", log, "-v4", "--tcp-established", "--file-locks",
                           "--manage-cgroups=ignore", "--network-lock", "nftables"});
}

}  // namespace

std::string criu_tty_key(dev_t rdev, dev_t dev) {
  char key[64];
  std::snprintf(key, sizeof key, "tty[%llx:%llx]", static_cast<unsigned long long>(rdev),
                static_cast<unsigned long long>(dev));
  return key;
}

std::vector<std::string> criu_dump_arguments(const CriuDump& dump) {
  std::vector<std::string> args{
      "criu", "dump", "-t", std::to_string(dump.init), "--freeze-cgroup", dump.cgroup.string()};
  add_common(args, dump.dir, "dump.log");
  // A file deleted while open is saved by a link of its own.
  args.push_back("--link-remap");
  // The /proc view is FUSE, which CRIU cannot save: a new view takes its place.
  args.insert(args.end(), {"--external", std::string("mnt[/proc]:") + kCriuProcViewKey});
  if (dump.console_mount) args.insert(args.end(), {"--external", std::string("mnt[/dev/console]:") + kCriuConsoleKey});
  // Every other bind from outside the CT's root (its device nodes and masked paths, binds
  // of the host's devtmpfs) is bound again from the same host path.
  args.insert(args.end(), {"--external", "mnt[]"});
  if (!dump.console.empty()) args.insert(args.end(), {"--external", dump.console});
  return args;
}

std::vector<std::string> criu_restore_arguments(const CriuRestore& restore) {
  std::vector<std::string> args{
      "criu", "restore", "-d", "--root", restore.root.string(), "--pidfile", restore.pid_file.string()};
  add_common(args, restore.dir, "restore.log");
  args.insert(args.end(), {"--external", std::string("mnt[") + kCriuProcViewKey + "]:" + restore.proc_view.string()});
  if (!restore.console_path.empty())
    args.insert(args.end(),
                {"--external", std::string("mnt[") + kCriuConsoleKey + "]:" + restore.console_path.string()});
  args.insert(args.end(), {"--ext-mount-map", "auto"});
  if (!restore.console.empty() && restore.console_fd >= 0)
    args.insert(args.end(), {"--inherit-fd", "fd[" + std::to_string(restore.console_fd) + "]:" + restore.console});
  return args;
}

}  // namespace ubc
