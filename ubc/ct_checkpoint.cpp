// vzctl chkpnt and restore: a CT's whole state saved by CRIU with ubc's own beside it
// (ubc/checkpoint_state.h), and the CT running again from it (docs/CHECKPOINT.md).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "loader/cgroup.h"
#include "loader/child_process.h"
#include "loader/error.h"
#include "loader/fd_passing.h"
#include "loader/proc_view.h"
#include "loader/seccomp_policy.h"
#include "loader/unique_fd.h"
#include "ubc/checkpoint_state.h"
#include "ubc/containers.h"
#include "ubc/cpu_control.h"
#include "ubc/criu_commands.h"
#include "ubc/criu_run.h"
#include "ubc/criu_seccomp_image.h"
#include "ubc/ct_config.h"
#include "ubc/ct_devices.h"
#include "ubc/ct_helpers.h"
#include "ubc/ct_network.h"
#include "ubc/io_settings.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

// pts slaves: UNIX98_PTY_SLAVE_MAJOR and the majors after it.
constexpr unsigned kFirstPtsMajor = 136, kLastPtsMajor = 143;

std::string file_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) throw std::runtime_error("writing " + path.string() + " failed");
}

// Writes `text` to `path` whole or not at all.
void replace_file(const fs::path& path, const std::string& text) {
  const fs::path partial = path.string() + ".partial";
  write_file(partial, text);
  fs::rename(partial, path);
}

// CRIU's own files in a checkpoint directory: what a failed or restored dump leaves, which
// a new dump may replace.
bool pre_dump_dir(const fs::path& name);

bool criu_file(const fs::path& name) {
  const std::string text = name.string();
  return name.extension() == ".img" || name.extension() == ".log" || text.starts_with("stats-") ||
         text == std::string(kCheckpointStateFile) + ".partial" || pre_dump_dir(name) || text == "parent";
}

bool pre_dump_dir(const fs::path& name) {
  return name.string().starts_with("pre-");
}

// `keep_pre_dumps`: a dump on top of them is next.
void remove_criu_files(const fs::path& dir, bool logs_too, bool keep_pre_dumps = false) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path name = entry.path().filename();
    if (!criu_file(name) || (!logs_too && name.extension() == ".log") || (keep_pre_dumps && pre_dump_dir(name)))
      continue;
    fs::remove_all(entry.path());
  }
}

std::optional<CheckpointState> state_in(const fs::path& dir) {
  const fs::path file = dir / kCheckpointStateFile;
  if (!fs::exists(file)) return std::nullopt;
  return parse_checkpoint_state(file_text(file));
}

// The parent of a host pid, if it still runs.
std::optional<pid_t> parent_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return std::nullopt;
  // pid (comm) state ppid ...: comm may hold spaces and parentheses, the last ')' ends it.
  const auto end_of_name = text.rfind(')');
  if (end_of_name == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(end_of_name + 1));
  char state = 0;
  pid_t ppid = 0;
  if (!(rest >> state >> ppid)) return std::nullopt;
  return ppid;
}

std::string process_name(pid_t pid) {
  std::string name;
  std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/comm"), name);
  return name;
}

// The processes in the CT's cgroup tree that do not descend from its init: `exec` and
// `enter` sessions, whose parent is ubcctl on the host (a process they leave behind is
// init's child once they end).
std::vector<pid_t> processes_outside_tree(const fs::path& cgroup, pid_t init) {
  std::vector<fs::path> cgroups{cgroup};
  std::error_code error;
  for (fs::recursive_directory_iterator it(cgroup, error), end; !error && it != end; it.increment(error))
    if (it->is_directory(error)) cgroups.push_back(it->path());
  std::vector<pid_t> outside;
  for (const auto& each : cgroups) {
    std::vector<pid_t> members;
    try {
      members = cgroup::member_pids(each);
    } catch (const std::exception&) {
      continue;  // a cgroup the CT removed meanwhile
    }
    for (const pid_t pid : members) {
      std::optional<pid_t> ancestor = pid;
      for (int depth = 0; ancestor && *ancestor > 1 && *ancestor != init && depth < 1024; ++depth)
        ancestor = parent_of(*ancestor);
      if (ancestor && *ancestor != init) outside.push_back(pid);  // gone meanwhile: not a session
    }
  }
  return outside;
}

// What chkpnt cannot restore yet is refused before the CT is touched: a dump it could not
// restore would leave the CT stopped.
void refuse_unrestorable(const std::string& ctid, const CtSettings& ct, std::optional<pid_t> init,
                         const fs::path& cgroup) {
  if (!ct.netdevs.empty())
    throw std::runtime_error("CT " + ctid + " has host network devices (NETDEV): their checkpoint is not built yet");
  if (!init) return;
  std::error_code error;
  if (fs::read_symlink("/proc/" + std::to_string(*init) + "/exe", error).filename() == "systemd")
    throw std::runtime_error("CT " + ctid + " runs systemd, whose /proc files are not restored yet");
  if (const auto sessions = processes_outside_tree(cgroup, *init); !sessions.empty()) {
    std::string named;
    for (const pid_t pid : sessions)
      named += (named.empty() ? "" : ", ") + std::to_string(pid) + " " + process_name(pid);
    throw std::runtime_error("CT " + ctid + " has an exec or enter session running (pid " + named +
                             "): CRIU saves the processes under the CT's init only, and the session would be "
                             "killed; end it first");
  }
}

// CRIU's parasite opens files inside each task it dumps (its code's memfd, /proc/self
// files), charged to the CT as any: a CT at its numfile barrier cannot be dumped, and CRIU
// would fail half-way with its own words ("Parasite failed to dump /proc/self/cgroup").
constexpr std::uint64_t kParasiteFiles = 8;

void refuse_without_parasite_room(Host& host, const std::string& ctid) {
  const ubc_counter files = host.counter(ctid, UBC_NUMFILE);
  if (files.barrier >= files.held + kParasiteFiles) return;
  throw std::runtime_error("CT " + ctid + " holds " + std::to_string(files.held) + " files of its numfile barrier " +
                           std::to_string(files.barrier) + ": CRIU needs up to " + std::to_string(kParasiteFiles) +
                           " more in it to dump it; raise it first (ubcctl set " + ctid + " --numfile " +
                           std::to_string(files.held + 2 * kParasiteFiles) + ")");
}

// The dump directory, made ready for a new checkpoint: one that holds a checkpoint not
// restored yet, or files that are not CRIU's, is refused (nothing is removed).
void prepare_dump_dir(const fs::path& dir, bool keep_pre_dumps) {
  if (const auto state = state_in(dir); state && !state->restored_at)
    throw std::runtime_error(dir.string() + " holds a checkpoint of CT " + state->ctid + " (dumped " +
                             state->dumped_at + ") not restored yet: restore it, or remove it first");
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(dir))
    if (!criu_file(entry.path().filename()) && entry.path().filename() != kCheckpointStateFile)
      throw std::runtime_error(dir.string() + " holds files that are not a checkpoint's (" +
                               entry.path().filename().string() + "): give an empty directory");
  remove_criu_files(dir, true, keep_pre_dumps);
  fs::remove(dir / kCheckpointStateFile);
  fs::permissions(dir, fs::perms::owner_all);
}

// The console pty init's stdin is, if it is one: CRIU's key for it.
std::string console_key(pid_t init) {
  struct stat console {};
  const std::string path = "/proc/" + std::to_string(init) + "/fd/0";
  if (::stat(path.c_str(), &console) || !S_ISCHR(console.st_mode) || major(console.st_rdev) < kFirstPtsMajor ||
      major(console.st_rdev) > kLastPtsMajor)
    return "";
  return criu_tty_key(console.st_rdev, console.st_dev);
}

// Whether the CT's /dev/console is a bind mount (of its console pty, ubc-console's).
bool console_is_bound(pid_t init) {
  std::ifstream mounts("/proc/" + std::to_string(init) + "/mountinfo");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    if (fields >> id >> parent >> device >> root >> mount_point && mount_point == "/dev/console") return true;
  }
  return false;
}

// The CT's limits lifted while CRIU makes its objects (CRIU's own files and memory are
// charged to the CT as it works), and put back as they were afterwards, whatever happened.
class LiftedLimits {
 public:
  LiftedLimits(Host& host, std::string ctid) : host_(host), ctid_(std::move(ctid)) {
    for (const auto& row : host_.usage(ctid_).resources)
      saved_[row.resource->id] = Limits{row.counter.barrier, row.counter.limit};
    for (const auto& [resource, limits] : saved_) host_.set_limits(ctid_, resource, {UBC_UNLIMITED, UBC_UNLIMITED});
  }
  ~LiftedLimits() {
    try {
      put_back();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubcctl: CT %s: putting its limits back: %s\n", ctid_.c_str(), error.what());
    }
  }
  LiftedLimits(const LiftedLimits&) = delete;
  LiftedLimits& operator=(const LiftedLimits&) = delete;
  void put_back() {
    for (auto it = saved_.begin(); it != saved_.end(); it = saved_.erase(it))
      host_.set_limits(ctid_, it->first, it->second);
  }
  // Once the restore has succeeded: the limits the CT had when it was saved (on another
  // host, or set without --save, they are not this host's config's), not the ones lifted.
  void settle_at(const std::vector<CheckpointState::Row>& rows) {
    for (const auto& row : rows) {
      host_.set_limits(ctid_, row.resource->id, {row.counter.barrier, row.counter.limit});
      saved_.erase(row.resource->id);
    }
    put_back();  // a row the checkpoint did not have
  }

 private:
  Host& host_;
  std::string ctid_;
  std::map<ubc_resource, Limits> saved_;
};

// A restored CT's /proc view: a new FUSE mount at a host path CRIU binds as the CT's /proc
// (the checkpoint's external mount), with its server running before CRIU looks into it.
// The server gets the CT's procfs once CRIU has mounted it (hand_over).
class RestoreView {
 public:
  // `ct_root_id`: the CT's root as the host sees it, the view's owner.
  RestoreView(const std::string& ctid, const fs::path& helper_cgroup, unsigned ct_root_id, int log)
      : mount_point_(run_dir() / (ctid + ".restore-proc")) {
    ns::ProcViewMount view = ns::create_proc_view(ct_root_id, ct_root_id);
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends)) throw_system_error("socketpair");
    host_end_.reset(ends[0]);
    const UniqueFd server_end(ends[1]);
    fs::create_directories(mount_point_);
    if (::move_mount(view.mount.get(), "", AT_FDCWD, mount_point_.c_str(), MOVE_MOUNT_F_EMPTY_PATH))
      throw_system_error("move_mount(the /proc view on " + mount_point_.string() + ")");
    mounted_ = true;
    spawn_detached({helper_path("ubc-procfs"), helper_cgroup}, {ctid, "-", std::to_string(ct_root_id)},
                   {view.connection.get(), server_end.get()}, log);
  }
  ~RestoreView() {
    // CRIU's bind in the CT keeps the view; the host's own mount goes. Closing the
    // socket unsent ends a server that never got its procfs.
    if (mounted_ && ::umount2(mount_point_.c_str(), MNT_DETACH))
      std::perror(("ubcctl: umount " + mount_point_.string()).c_str());
    std::error_code ignored;
    fs::remove(mount_point_, ignored);
  }
  RestoreView(const RestoreView&) = delete;
  RestoreView& operator=(const RestoreView&) = delete;

  const fs::path& mount_point() const { return mount_point_; }
  // The restored init's procfs (CRIU mounted it on the view's .procfs) to the server, then
  // the listener of the filter every restored task runs under (CriuCallFilter), which it
  // takes as a started CT's init's.
  void hand_over(pid_t init, const UniqueFd& call_listener) {
    const std::string procfs_path = "/proc/" + std::to_string(init) + "/root/proc/" + ns::kRealProcName;
    const UniqueFd procfs(::open(procfs_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!procfs) throw_system_error("open(" + procfs_path + ")");
    send_fd(host_end_.get(), procfs.get(), "the /proc view's server");
    if (call_listener) send_fd(host_end_.get(), call_listener.get(), "the restored CT's seccomp listener");
  }

 private:
  fs::path mount_point_;
  UniqueFd host_end_;
  bool mounted_ = false;
};

// CRIU's restored tasks read the images themselves: first as host root still (a new user
// namespace's task, before CRIU has written its uid_map, has no capability over any file,
// so only owner root gets it in), then as the CT's root. So the images are root's and
// readable by the CT root's group, and closed to every other host user (they hold the
// CT's memory). With 2 vCPUs the task was mapped in time and images owned by the CT's
// root worked; with one, it read its first image before and got EACCES.
void share_images_with(const fs::path& dir, unsigned ct_root_gid) {
  constexpr auto kDirMode = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec;
  constexpr auto kImageMode = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read;
  auto share = [ct_root_gid](const fs::path& path, fs::perms mode) {
    if (::chown(path.c_str(), 0, ct_root_gid)) throw_system_error("chown(" + path.string() + ")");
    fs::permissions(path, mode);
  };
  share(dir, kDirMode);
  // Pre-dumps' images are in directories of their own ("parent" is a symlink to one).
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_symlink()) continue;
    if (entry.is_directory()) share(entry.path(), kDirMode);
    if (entry.is_regular_file()) share(entry.path(), kImageMode);
  }
}

// A cgroup yard for one CRIU run (criu_cgroup_yard_mount), gone with it.
class CgroupYard {
 public:
  explicit CgroupYard(const std::string& ctid) : path_(run_dir() / (ctid + ".criu-yard")) {
    const fs::path mount_point = criu_cgroup_yard_mount(path_);
    fs::create_directories(mount_point);
    const auto hierarchy = cgroup::find_v2_mount();
    if (!hierarchy) throw std::runtime_error("no cgroup2 mount on this host");
    if (::mount(hierarchy->c_str(), mount_point.c_str(), nullptr, MS_BIND, nullptr))
      throw_system_error("mount --bind " + hierarchy->string() + " " + mount_point.string());
  }
  ~CgroupYard() {
    ::umount2(criu_cgroup_yard_mount(path_).c_str(), MNT_DETACH);
    std::error_code ignored;
    fs::remove(criu_cgroup_yard_mount(path_), ignored);
    fs::remove(path_, ignored);
  }
  CgroupYard(const CgroupYard&) = delete;
  CgroupYard& operator=(const CgroupYard&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The cgroup's path as CRIU names cgroups: from the root of the cgroup2 hierarchy.
std::string cgroup_below_mount(const fs::path& cgroup) {
  const auto hierarchy = cgroup::find_v2_mount();
  if (!hierarchy) throw std::runtime_error("no cgroup2 mount on this host");
  return "/" + cgroup.lexically_relative(*hierarchy).string();
}

void mark_restored(const fs::path& dir, CheckpointState state) {
  state.restored_at = checkpoint_timestamp();
  replace_file(dir / kCheckpointStateFile, format_checkpoint_state(state));
  remove_criu_files(dir, false);
}

}  // namespace

fs::path default_dump_dir(const std::string& ctid) {
  validate_ctid(ctid);
  return state_dir() / "dump" / ctid;
}

bool Containers::checkpointed(const std::string& ctid) const {
  try {
    const auto state = state_in(default_dump_dir(ctid));
    return state && !state->restored_at;
  } catch (const std::invalid_argument&) {
    return true;  // a state file ubc cannot read is still a checkpoint not to lose
  }
}

void Containers::resume_after_failed_dump(const std::string& ctid, const std::exception& error) {
  if (!running_init(ctid) || !frozen(ctid)) return;
  try {
    resume(ctid);
  } catch (const std::exception& resume_error) {
    throw std::runtime_error(std::string(error.what()) + "; resuming the CT failed too: " + resume_error.what());
  }
}

void Containers::pre_dump(const std::string& ctid, const fs::path& dir, int round) {
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime checkpoints it");
  const auto init = running_init(ctid);
  if (!init) throw std::runtime_error("CT " + ctid + " is not running");
  if (frozen(ctid)) throw std::runtime_error("CT " + ctid + " is suspended: a pre-dump is taken while it runs");
  refuse_unrestorable(ctid, settings(ctid), init, host_.cgroup_of(ctid));
  refuse_without_parasite_room(host_, ctid);
  require_criu();
  if (round < 1) throw std::invalid_argument("pre-dump rounds count from 1");
  prepare_dump_dir(dir, round > 1);
  const fs::path images = dir / pre_dump_name(round);
  fs::remove_all(images);
  fs::create_directories(images);
  const CgroupYard yard(ctid);
  // CRIU freezes the CT itself, but wherever it is; frozen first, the CT is where CRIU can
  // seize it (ct_suspend.cpp). CRIU leaves it frozen, as it found it, and what waits for
  // CRIU thaws it, ubcctl killed or not (before CRIU, the hold does).
  const FreezeHold hold = suspend_held(ctid);
  const fs::path cgroup = host_.cgroup_of(ctid);
  try {
    run_criu(criu_pre_dump_arguments({*init, cgroup, images, console_key(*init), console_is_bound(*init), yard.path(),
                                      round > 1 ? "../" + pre_dump_name(round - 1) : ""}),
             images / "pre-dump.log", "", -1, {{}, {}, cgroup, cgroup, hold.holder_fd()});
  } catch (const std::exception& error) {
    remove_criu_files(dir, false);
    resume_after_failed_dump(ctid, error);
    throw;
  }
}

void Containers::checkpoint(const std::string& ctid, const fs::path& dir, int pre_dumps, AfterDump after) {
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime checkpoints it");
  const auto init = running_init(ctid);
  if (!init) throw std::runtime_error("CT " + ctid + " is not running");
  refuse_unrestorable(ctid, settings(ctid), init, host_.cgroup_of(ctid));
  refuse_without_parasite_room(host_, ctid);
  require_criu();
  const std::string parent = pre_dumps > 0 ? pre_dump_name(pre_dumps) : "";
  if (!parent.empty() && !fs::is_directory(dir / parent))
    throw std::runtime_error("no pre-dump " + (dir / parent).string() + " to add the checkpoint to");
  const bool was_suspended = frozen(ctid);
  const bool stay_suspended = after == AfterDump::stay_suspended;
  if (stay_suspended && !was_suspended)
    throw std::runtime_error("CT " + ctid + " is not suspended: --dump saves a suspended CT (`ubcctl chkpnt " + ctid +
                             " --suspend` first)");
  prepare_dump_dir(dir, !parent.empty());
  // Frozen here, the CT is thawed should ubcctl die before CRIU's waiter has settled it.
  std::optional<FreezeHold> hold;
  if (!was_suspended) hold.emplace(suspend_held(ctid));
  const std::string console = console_key(*init);
  try {
    std::vector<CheckpointState::Row> rows;
    for (const auto& row : host_.usage(ctid).resources) rows.push_back({row.resource, row.counter});
    const std::string state = format_checkpoint_state(
        {ctid, console, checkpoint_timestamp(), std::nullopt, rows, CpuControl(host_).running_settings(ctid)});
    const CgroupYard yard(ctid);
    // ubc's state goes in place once CRIU succeeded, by what waits for CRIU: a ubcctl killed
    // meanwhile cannot leave a dump (and the CT's processes gone) without it. A dump that
    // stops the CT leaves its empty cgroup thawed, one that failed the CT as it was.
    const fs::path cgroup = host_.cgroup_of(ctid);
    const fs::path state_file = dir / kCheckpointStateFile, staged_state = state_file.string() + ".partial";
    write_file(staged_state, state);
    const AfterCriu after{staged_state, state_file, stay_suspended ? fs::path() : cgroup,
                          was_suspended ? fs::path() : cgroup, hold ? hold->holder_fd() : -1};
    run_criu(criu_dump_arguments(
                 {*init, cgroup, dir, console, console_is_bound(*init), yard.path(), parent, stay_suspended}),
             dir / "dump.log", "", -1, after);
    if (fs::exists(staged_state)) fs::rename(staged_state, state_file);
  } catch (const std::exception& error) {
    remove_criu_files(dir, false);
    if (!was_suspended) resume_after_failed_dump(ctid, error);
    throw;
  }
  if (!stay_suspended) end_run(ctid, init);
}

void Containers::kill_checkpointed(const std::string& ctid, const fs::path& dir) {
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime checkpoints it");
  const auto init = running_init(ctid);
  if (!init) throw std::runtime_error("CT " + ctid + " is not running");
  if (!frozen(ctid))
    throw std::runtime_error("CT " + ctid +
                             " is not suspended: --kill stops a CT suspended and dumped (--suspend, --dump)");
  const auto state = state_in(dir);
  if (!state || state->ctid != ctid || state->restored_at)
    throw std::runtime_error("no checkpoint of CT " + ctid + " in " + dir.string() +
                             " to restore it from: --dump first (or stop, which does not keep its processes)");
  end_run(ctid, init);
}

void Containers::restore(const std::string& ctid, const fs::path& dir) {
  if (!host_.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  if (running_init(ctid)) throw std::runtime_error("CT " + ctid + " is running");
  if (!host_.engine_loaded())
    throw std::runtime_error("the engine is not loaded (ubcctl load): the restored CT would run without beancounters");
  const auto state = state_in(dir);
  if (!state) throw std::runtime_error("no checkpoint in " + dir.string() + " (no " + kCheckpointStateFile + ")");
  if (state->ctid != ctid) throw std::runtime_error(dir.string() + " is CT " + state->ctid + "'s checkpoint");
  if (state->restored_at)
    throw std::runtime_error("the checkpoint in " + dir.string() + " was restored at " + *state->restored_at +
                             ": a checkpoint restores once (the CT went on from there); `ubcctl start " + ctid +
                             "` starts the CT afresh");
  // A dump whose ubcctl was killed left the old run's pid file; CRIU makes its own new.
  fs::remove(pid_file(ctid));
  const CtSettings ct = settings(ctid);
  refuse_unrestorable(ctid, ct, std::nullopt, {});
  require_criu();
  const fs::path cgroup = host_.cgroup_of(ctid);
  fs::create_directories(run_dir());
  const fs::path helper_cgroup = host_.prepare_helper_cgroup(ctid);
  DeviceRulesUntilRunning rules(host_, ctid);
  rules.set(device_rules(ct.devices));
  const unsigned ct_root_id = ct.user_namespace ? ct.user_mapping.host_first : 0;
  prepare_ct_cgroup(cgroup, ct, ct_root_id);
  apply_ct_io_policy(cgroup, io_settings_from(CtConfig::load(host_.config_path(ctid))), ct);
  LiftedLimits lifted(host_, ctid);
  share_images_with(dir, ct_root_id);
  CtConsole console(ctid, helper_cgroup, ct_root_id);
  RestoreView view(ctid, helper_cgroup, ct_root_id, console.output());
  const CgroupYard yard(ctid);
  // sysinfo and quotactl answered in the restored tasks again (ubc/criu_seccomp_image.h).
  trace_instead_of_notify_in(dir);
  int listener_ends[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, listener_ends)) throw_system_error("socketpair");
  const UniqueFd listener_from(listener_ends[0]);
  UniqueFd listener_to(listener_ends[1]);
  const CriuCallFilter call_filter{seccomp::served_calls_program(ct.user_namespace), listener_to.get()};
  pid_t init = 0;
  try {
    run_criu(criu_restore_arguments(
                 {ct.root, dir, view.mount_point(), state->console, console.pty.slave ? console.pty.slave.get() : -1,
                  console.pty.slave_path, pid_file(ctid), cgroup, yard.path(),
                  ct.ip_addresses.empty() ? "" : host_veth_name(cgroup::id_of(cgroup)), cgroup_below_mount(cgroup)}),
             dir / "restore.log", (cgroup / "cgroup.procs").string(), console.pty.slave.get(), {}, &call_filter);
    if (!(std::ifstream(pid_file(ctid)) >> init) || init <= 0)
      throw std::runtime_error("criu restore wrote no pid to " + pid_file(ctid).string());
    // Sent by the process that waited for CRIU, which has ended: none here, none to come.
    listener_to.reset();
    const UniqueFd call_listener = receive_fd(listener_from.get());
    if (!call_listener)
      std::fprintf(stderr,
                   "ubcctl: warning: CT %s's sysinfo and quotactl fail with ENOSYS: the restored CT's "
                   "seccomp listener was lost\n",
                   ctid.c_str());
    route_to_ct_addresses(cgroup::id_of(cgroup), ct.ip_addresses);
    view.hand_over(init, call_listener);
    console.keep(ctid, init);
  } catch (...) {
    end_run(ctid, init ? std::optional(init) : std::nullopt);
    throw;
  }
  lifted.settle_at(state->rows);
  for (const auto& row : state->rows)
    host_.restore_history(ctid, row.resource->id, row.counter.maxheld, row.counter.failcnt);
  CpuControl(host_).set_ct(ctid, state->cpu);
  rules.keep();
  mark_restored(dir, *state);
}

}  // namespace ubc
