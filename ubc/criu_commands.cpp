#include "ubc/criu_commands.h"

#include <cstdio>

#include "ubc/ct_network.h"

namespace ubc {

namespace {

// What both directions share: established TCP connections and file locks are the CT's
// state. CRIU's "soft" cgroup mode puts each task back in its cgroup and its cgroup
// namespace (rooted at the CT's cgroup again: nsdelegate keeps the CT's limits and
// cgroup.freeze the host's only so), and makes the cgroups the CT had made below its own,
// but never writes the CT's own cgroup's files, which are ubc's. Its default network lock
// runs iptables, which a modern host lacks.
void add_common(std::vector<std::string>& args, const std::filesystem::path& dir,
                const std::filesystem::path& cgroup_yard) {
  args.insert(args.end(), {"-D", dir.string(), "-v4", "--tcp-established", "--file-locks", "--manage-cgroups=soft",
                           "--cgroup-yard", cgroup_yard.string(), "--network-lock", "nftables"});
}

// What a dump and a pre-dump must both be told of the CT's mounts and terminals.
void add_externals(std::vector<std::string>& args, const CriuDump& dump) {
  // The /proc view is FUSE, which CRIU cannot save: a new view takes its place.
  args.insert(args.end(), {"--external", std::string("mnt[/proc]:") + kCriuProcViewKey});
  if (dump.console_mount) args.insert(args.end(), {"--external", std::string("mnt[/dev/console]:") + kCriuConsoleKey});
  // The CT's cgroup2 mount is bound again from the CT's cgroup on the host: a mount of
  // cgroup2 by CRIU would fail in a user namespace, and outside one it would reset the
  // host's cgroup2 options (nsdelegate, which keeps every CT's limits from it) to the CT
  // mount's.
  args.insert(args.end(), {"--external", std::string("mnt[/sys/fs/cgroup]:") + kCriuCgroupKey});
  // Every other bind from outside the CT's root (its device nodes and masked paths, binds
  // of the host's devtmpfs) is bound again from the same host path.
  args.insert(args.end(), {"--external", "mnt[]"});
  if (!dump.console.empty()) args.insert(args.end(), {"--external", dump.console});
  // Memory tracking: the next dump saves only the pages written since this one.
  if (!dump.parent.empty()) args.insert(args.end(), {"--track-mem", "--prev-images-dir", dump.parent});
}

}  // namespace

std::filesystem::path criu_cgroup_yard_mount(const std::filesystem::path& yard) {
  return yard / "unified";  // CRIU's name for the cgroup2 hierarchy
}

std::string criu_tty_key(dev_t rdev, dev_t dev) {
  char key[64];
  std::snprintf(key, sizeof key, "tty[%llx:%llx]", static_cast<unsigned long long>(rdev),
                static_cast<unsigned long long>(dev));
  return key;
}

std::vector<std::string> criu_dump_arguments(const CriuDump& dump) {
  std::vector<std::string> args{
      "criu", "dump", "-t", std::to_string(dump.init), "--freeze-cgroup", dump.cgroup.string()};
  add_common(args, dump.dir, dump.cgroup_yard);
  // A file deleted while open is saved by a link of its own.
  args.push_back("--link-remap");
  // CRIU found the CT frozen and leaves it so.
  if (dump.leave_running) args.push_back("--leave-running");
  add_externals(args, dump);
  return args;
}

std::vector<std::string> criu_pre_dump_arguments(const CriuDump& dump) {
  std::vector<std::string> args{
      "criu", "pre-dump", "-t", std::to_string(dump.init), "--freeze-cgroup", dump.cgroup.string()};
  add_common(args, dump.dir, dump.cgroup_yard);
  add_externals(args, dump);
  if (dump.parent.empty()) args.push_back("--track-mem");
  return args;
}

std::string pre_dump_name(int round) {
  return "pre-" + std::to_string(round);
}

std::vector<std::string> criu_restore_arguments(const CriuRestore& restore) {
  std::vector<std::string> args{
      "criu", "restore", "-d", "--root", restore.root.string(), "--pidfile", restore.pid_file.string()};
  add_common(args, restore.dir, restore.cgroup_yard);
  args.insert(args.end(), {"--external", std::string("mnt[") + kCriuProcViewKey + "]:" + restore.proc_view.string()});
  if (!restore.console_path.empty())
    args.insert(args.end(),
                {"--external", std::string("mnt[") + kCriuConsoleKey + "]:" + restore.console_path.string()});
  args.insert(args.end(), {"--external", std::string("mnt[") + kCriuCgroupKey + "]:" + restore.cgroup.string()});
  args.insert(args.end(), {"--ext-mount-map", "auto"});
  // The CT's tasks go back below the CT's cgroup on this host, wherever the checkpoint's
  // host kept its CTs (another cgroup root, another host).
  if (!restore.cgroup_root.empty()) args.insert(args.end(), {"--cgroup-root", restore.cgroup_root});
  // The CT's veth: CRIU makes the pair again, its end in the CT's network namespace as
  // before and the peer in the host's under the name the host's routes use.
  if (!restore.host_veth.empty())
    args.insert(args.end(), {"--veth-pair", std::string(kCtVethName) + "=" + restore.host_veth});
  if (!restore.console.empty() && restore.console_fd >= 0)
    args.insert(args.end(), {"--inherit-fd", "fd[" + std::to_string(restore.console_fd) + "]:" + restore.console});
  return args;
}

}  // namespace ubc
