// Containers::start: a CT's init as PID 1 of namespaces of its own, in the CT's cgroup,
// with its root filesystem, network, /proc view, device rules and console set up first.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "loader/cgroup.h"
#include "loader/child_process.h"
#include "loader/ct_confinement.h"
#include "loader/error.h"
#include "loader/namespaces.h"
#include "loader/open_in_root.h"
#include "loader/proc_view.h"
#include "loader/unique_fd.h"
#include "ubc/containers.h"
#include "ubc/ct_console.h"
#include "ubc/ct_devices.h"
#include "ubc/ct_files.h"
#include "ubc/ct_helpers.h"
#include "ubc/ct_network.h"
#include "ubc/ct_process.h"
#include "ubc/disk_quota.h"
#include "ubc/io_settings.h"
#include "ubc/ugid_quota.h"
#include "ubc/userns_ranges.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

// A CT's files belong to its own root as the host sees it: host ids from `first` on for a
// CT of its own user namespace, 0 on for one without. A tree whose root directory is owned
// by another range's first id (host root's, or the range of the CT it was cloned from) is
// shifted over, owners and groups alike, once. Not an idmapped mount: through one, a
// setuid file the CT's root made would be setuid host root on disk, for any host user who
// can reach it.
void shift_root_ownership(const fs::path& root, unsigned first) {
  struct stat info {};
  if (::lstat(root.c_str(), &info)) throw_system_error("lstat(" + root.string() + ")");
  const unsigned from = info.st_uid;
  const bool range_start = from == 0 || (from >= kUserRangeBase && (from - kUserRangeBase) % kUserRangeSize == 0);
  if (from == first || !range_start) return;
  auto shift_id = [&](unsigned id) { return id >= from && id - from < kUserRangeSize ? id - from + first : id; };
  auto shift = [&](const fs::path& path) {
    if (::lstat(path.c_str(), &info)) throw_system_error("lstat(" + path.string() + ")");
    const unsigned uid = shift_id(info.st_uid), gid = shift_id(info.st_gid);
    if (uid == info.st_uid && gid == info.st_gid) return;
    // lchown clears setuid and setgid bits: put them back.
    if (::lchown(path.c_str(), uid, gid)) throw_system_error("lchown(" + path.string() + ")");
    if (!S_ISLNK(info.st_mode) && (info.st_mode & (S_ISUID | S_ISGID)) && ::chmod(path.c_str(), info.st_mode & 07777))
      throw_system_error("chmod(" + path.string() + ")");
  };
  const dev_t device = info.st_dev;
  // Nothing mounted below the root is the CT's to shift.
  for (auto entry = fs::recursive_directory_iterator(root); entry != fs::recursive_directory_iterator(); ++entry) {
    if (::lstat(entry->path().c_str(), &info)) throw_system_error("lstat(" + entry->path().string() + ")");
    if (info.st_dev != device) {
      entry.disable_recursion_pending();
      continue;
    }
    shift(entry->path());
  }
  shift(root);  // last: it says the tree is done
}

// Whether the CT's init program is systemd: its path resolved inside the CT's root, as the
// CT will see it, never outside it.
bool runs_systemd(const fs::path& root, const std::string& init) {
  const UniqueFd program = open_in_root(root, init, O_PATH);
  if (!program) return false;
  std::error_code error;
  const fs::path resolved = fs::read_symlink("/proc/self/fd/" + std::to_string(program.get()), error);
  return !error && resolved.filename() == "systemd";
}

// The pipes between the host and the CT's init-to-be: init waits on `go` until the host
// has set up what only the host can (user mapping, network, the /proc view's server); what
// it writes to `failed` before its exec closes that pipe is why it failed.
struct InitHandshake {
  UniqueFd go_read, go_write, failed_read, failed_write;

  static InitHandshake open() {
    int go[2], failed[2];
    if (::pipe2(go, O_CLOEXEC) || ::pipe2(failed, O_CLOEXEC)) throw_system_error("pipe2");
    return {UniqueFd(go[0]), UniqueFd(go[1]), UniqueFd(failed[0]), UniqueFd(failed[1])};
  }
  // Waits for init's exec (or exit); returns what it said went wrong, empty if nothing.
  std::string failure() { return read_until_closed(failed_read.get()); }
};

// The CT's /proc view (a FUSE mount init puts over /proc) and the socket pair between the
// CT and ubc-procfs, which serves it; no view, said in `result`, where FUSE or the
// server is missing.
struct ProcViewSetup {
  std::optional<ns::ProcViewMount> view;
  UniqueFd ct_end, server_end;
};

ProcViewSetup prepare_proc_view(const fs::path& server, unsigned ct_root_id, StartResult& result) {
  ProcViewSetup setup;
  if (!ns::proc_view_available()) {
    result.without_proc_view = "/dev/fuse does not open (modprobe fuse)";
  } else if (!fs::exists(server)) {
    result.without_proc_view = server.string() + " is missing";
  } else {
    setup.view = ns::create_proc_view(ct_root_id, ct_root_id);
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends)) throw_system_error("socketpair");
    setup.ct_end.reset(ends[0]);
    setup.server_end.reset(ends[1]);
  }
  return setup;
}

// The CT's init-to-be, PID 1 of its namespaces: waits until the host has set up what only
// the host can, then builds the CT's root and execs init.
// `nodes`: what its /dev holds besides the standard nodes.
[[noreturn]] void become_init(const std::string& ctid, const CtSettings& ct, const std::vector<ns::DeviceNode>& nodes,
                              const ResolverSettings& resolver, bool systemd, InitHandshake& handshake,
                              ProcViewSetup& setup, const CtConsole& console) {
  try {
    handshake.go_write.reset();
    handshake.failed_read.reset();
    setup.server_end.reset();
    if (setup.view) setup.view->connection.reset();
    char byte = 0;
    if (::read(handshake.go_read.get(), &byte, 1) != 1) ::_exit(1);
    if (ct.user_namespace) become_ct_root();
    const std::string hostname = ct.hostname.empty() ? ctid : ct.hostname;
    if (::sethostname(hostname.c_str(), hostname.size())) throw_system_error("sethostname(" + hostname + ")");
    std::optional<ns::ProcViewHandles> view_handles;
    if (setup.view) view_handles = ns::ProcViewHandles{setup.view->mount.get(), setup.ct_end.get(), systemd};
    ns::enter_root_filesystem(ct.root, nodes, view_handles, systemd, console.pty.slave_path);
    setup.view.reset();
    // The view's server answers sysinfo(2) for the CT: it gets the listener over this socket.
    ns::confine_to_ct(ct.capabilities, setup.ct_end ? setup.ct_end.get() : -1);
    setup.ct_end.reset();
    // Into the CT's files with no more power over them than its root, as vzctl's scripts did.
    write_hostname_file(hostname);
    write_resolv_conf(resolver);
    if (::setsid() < 0) throw_system_error("setsid");
    const int input = console.pty.slave ? console.output() : ::open("/dev/null", O_RDONLY);
    if (input < 0 || ::dup2(input, 0) < 0 || ::dup2(console.output(), 1) < 0 || ::dup2(console.output(), 2) < 0)
      throw_system_error("setting up init's stdio");
    exec_in_ct(ct.init);
  } catch (const std::exception& error) {
    const std::string message = error.what();
    [[maybe_unused]] auto ignored = ::write(handshake.failed_write.get(), message.data(), message.size());
    ::_exit(1);
  }
}

// The disk quota the config holds: a CT whose limits cannot be enforced does not start. For
// the second level (QUOTAUGIDLIMIT) its call server reads the limit of this run, and its
// quota tools find its disk's node in its /dev. Returns the nodes of its /dev.
std::vector<ns::DeviceNode> apply_disk_quotas(const std::string& ctid, const CtSettings& ct, const CtConfig& config,
                                              const fs::path& config_file) {
  if (const DiskQuotaSettings disk = disk_quota_from(config); !disk.empty())
    apply_disk_quota(ct, ensure_quota_project(config_file), disk);
  std::vector<ns::DeviceNode> nodes = ct.devices;
  const std::uint64_t ugid_limit = quotaugidlimit_from(config);
  if (ugid_limit) {
    require_ugid_quota(ct, config);
    if (auto node = quota_device_node(ct.root)) nodes.push_back(std::move(*node));
  }
  write_running_ugid_limit(ctid, ugid_limit);
  return nodes;
}

}  // namespace

CtSettings Containers::startable(const std::string& ctid, bool force) const {
  if (!host_.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime starts it");
  if (running_init(ctid)) throw std::runtime_error("CT " + ctid + " is already running");
  if (checkpointed(ctid))
    throw std::runtime_error("CT " + ctid + " has a checkpoint in " + default_dump_dir(ctid).string() +
                             ": `ubcctl restore " + ctid +
                             "` continues it; remove that directory to start the CT afresh");
  CtSettings ct = settings(ctid);
  if (!host_.engine_loaded() && !force)
    throw std::runtime_error("the engine is not loaded (ubcctl load): CT " + ctid +
                             " would run without beancounters, device rules and the bpf() denial; "
                             "start --force runs it so");
  if (ct.root.empty())
    throw std::runtime_error("CT " + ctid + " has no files (VE_ROOT): create it with --root or --ostemplate");
  if (!fs::is_directory(ct.root)) throw std::runtime_error("VE_ROOT " + ct.root.string() + " is not a directory");
  if (fs::equivalent(ct.root, "/")) throw std::runtime_error("VE_ROOT is the host's own root directory");
  if (!fs::exists(ct.root / ct.init.front().substr(ct.init.front().front() == '/' ? 1 : 0)))
    throw std::runtime_error("CT " + ctid + " has no " + ct.init.front() + " in " + ct.root.string() +
                             " (set INIT or start with --init)");
  return ct;
}

StartResult Containers::start(const std::string& ctid, bool force) {
  const CtSettings ct = startable(ctid, force);
  const fs::path cgroup = host_.cgroup_of(ctid);
  UniqueFd cgroup_fd(::open(cgroup.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd) throw_system_error("open(" + cgroup.string() + ")");
  fs::create_directories(run_dir());
  const fs::path helper_cgroup = host_.prepare_helper_cgroup(ctid);
  InitHandshake handshake = InitHandshake::open();
  StartResult result;
  // Device rules before the CT's first task exists: from its first open on, only the
  // standard and granted nodes open, as granted.
  const auto rules = device_rules(ct.devices);
  DeviceRulesUntilRunning rules_guard(host_, ctid);
  if (host_.engine_loaded())
    rules_guard.set(rules);
  else
    result.without_device_rules = "the engine is not loaded (ubcctl load)";
  // The CT's root as the host sees it: the view's files are its.
  const unsigned ct_root_id = ct.user_namespace ? ct.user_mapping.host_first : 0;
  shift_root_ownership(ct.root, ct_root_id);
  prepare_ct_cgroup(cgroup, ct, ct_root_id);
  const CtConfig config = CtConfig::load(host_.config_path(ctid));
  apply_ct_io_policy(cgroup, io_settings_from(config), ct);
  const std::vector<ns::DeviceNode> nodes = apply_disk_quotas(ctid, ct, config, host_.config_path(ctid));
  // systemd gets the kernel's procfs on /proc and the mounts its units would make.
  const bool systemd = runs_systemd(ct.root, ct.init.front());
  const fs::path view_server = helper_path("ubc-procfs");
  ProcViewSetup view = prepare_proc_view(view_server, ct_root_id, result);

  const ResolverSettings resolver = resolver_settings(ct.nameservers, ct.search_domains);
  CtConsole console(ctid, helper_cgroup, ct_root_id);

  const pid_t init = ns::clone_into_namespaces(cgroup_fd.get(), ct.user_namespace);
  if (init == 0) become_init(ctid, ct, nodes, resolver, systemd, handshake, view, console);
  handshake.go_read.reset();
  handshake.failed_write.reset();
  view.ct_end.reset();
  if (view.view) view.view->mount.reset();
  // Recorded before init can run anything: killed at any later point, this command leaves
  // either a running CT that `status` and `stop` see, or a stale pid (init exits when the
  // go pipe closes unwritten), never an init nobody knows of.
  std::ofstream(pid_file(ctid)) << init << "\n";
  auto abandon = [&] {
    ::kill(init, SIGKILL);
    ::waitpid(init, nullptr, 0);
    fs::remove(pid_file(ctid));
  };
  try {
    if (ct.user_namespace) ns::map_user_namespace(init, ct.user_mapping);
    set_up_ct_network(init, cgroup::id_of(cgroup), ct.ip_addresses, ct.netdevs);
    console.keep(ctid, init);
    if (view.view) {
      spawn_detached({view_server, helper_cgroup}, {ctid, std::to_string(init), std::to_string(ct_root_id)},
                     {view.view->connection.get(), view.server_end.get()}, console.output());
      view.view->connection.reset();
      view.server_end.reset();
    }
    if (::write(handshake.go_write.get(), "g", 1) != 1) throw_system_error("starting CT " + ctid);
  } catch (...) {
    abandon();
    throw;
  }
  handshake.go_write.reset();
  if (const std::string why = handshake.failure(); !why.empty()) {
    ::waitpid(init, nullptr, 0);
    fs::remove(pid_file(ctid));
    throw std::runtime_error("CT " + ctid + " did not start: " + why);
  }
  rules_guard.keep();
  return result;
}

}  // namespace ubc
