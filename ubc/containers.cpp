#include "ubc/containers.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "loader/cgroup.h"
#include "loader/ct_confinement.h"
#include "loader/error.h"
#include "loader/namespaces.h"
#include "loader/proc_view.h"
#include "loader/unique_fd.h"
#include "ubc/ct_console.h"
#include "ubc/ct_devices.h"
#include "ubc/ct_network.h"
#include "ubc/failcnt_baseline.h"
#include "ubc/run_command.h"
#include "ubc/userns_ranges.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

constexpr const char* kCtPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr int kKillTimeoutMs = 10000;

// The environment a CT's processes start with: nothing of the host's but the terminal type.
std::vector<std::string> ct_environment() {
  std::vector<std::string> env{kCtPath, "HOME=/root", "container=ubc"};
  if (const char* term = std::getenv("TERM")) env.push_back(std::string("TERM=") + term);
  return env;
}

[[noreturn]] void exec_in_ct(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const auto env = ct_environment();
  std::vector<char*> envp;
  for (const auto& var : env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);
  // execvpe searches the CT's PATH, not the host's.
  ::execvpe(args[0], args.data(), envp.data());
  throw_system_error("exec(" + argv[0] + ")");
}

void become_ct_root() {
  if (::setgroups(0, nullptr)) throw_system_error("setgroups");
  if (::setresgid(0, 0, 0)) throw_system_error("setresgid(0)");
  if (::setresuid(0, 0, 0)) throw_system_error("setresuid(0)");
}

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

// Where ubc unpacks CTs' files. Host users may pass through (a CT's init, its root an
// unprivileged host uid, must) but not list it: a CT's root may leave setuid programs in
// its files (setuid host root in a CT without a user namespace).

// A helper program installed next to the running one (ubcctl and ubc-procfs share a bin/).
fs::path helper_path(const char* name) {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) throw_system_error("readlink(/proc/self/exe)", error.value());
  return self.parent_path() / name;
}

// Runs `program args... FDS...` in a new session, its stdout and stderr on `log`, with `fds`
// kept open for it; a grandchild, so that it outlives this process without a zombie.
void spawn_detached(const fs::path& program, std::vector<std::string> args, std::initializer_list<int> fds, int log) {
  args.insert(args.begin(), program.string());
  for (int fd : fds) args.push_back(std::to_string(fd));
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) throw_system_error("fork");
  if (child == 0) {
    if (::setsid() < 0 || ::fork() != 0) ::_exit(0);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) ::_exit(127);
    for (int fd : fds)
      if (::fcntl(fd, F_SETFD, 0)) ::_exit(127);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) throw_system_error("waitpid");
}

// Where a CT's init and its children write their stdout and stderr: a pipe to ubc-console,
// which keeps the last kConsoleBytes (and as many before them in CONSOLE.1), or the file
// itself where ubc-console is missing.
constexpr unsigned long long kConsoleBytes = 1 << 20;
UniqueFd open_console(const fs::path& file) {
  const fs::path keeper = helper_path("ubc-console");
  if (fs::exists(keeper)) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC)) throw_system_error("pipe2");
    UniqueFd read_end(ends[0]), write_end(ends[1]);
    const UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    spawn_detached(keeper, {file.string(), std::to_string(kConsoleBytes)}, {read_end.get()}, null.get());
    return write_end;
  }
  UniqueFd console(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!console) throw_system_error("open(" + file.string() + ")");
  return console;
}

// A CT's device rules while its start may still fail: removed again unless kept.
class DeviceRulesUntilStarted {
 public:
  DeviceRulesUntilStarted(Host& host, std::string ctid) : host_(host), ctid_(std::move(ctid)) {}
  DeviceRulesUntilStarted(const DeviceRulesUntilStarted&) = delete;
  DeviceRulesUntilStarted& operator=(const DeviceRulesUntilStarted&) = delete;
  ~DeviceRulesUntilStarted() {
    if (!set_) return;
    try {
      host_.clear_device_rules(ctid_);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubcctl: CT %s: removing device rules: %s\n", ctid_.c_str(), error.what());
    }
  }
  void set(const std::vector<Engine::DeviceRule>& rules) {
    host_.set_device_rules(ctid_, rules);
    set_ = true;
  }
  void keep() { set_ = false; }

 private:
  Host& host_;
  std::string ctid_;
  bool set_ = false;
};

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

}  // namespace

fs::path partial_area(const fs::path& area) {
  return area.string() + kPartialAreaSuffix;
}

fs::path private_areas() {
  const fs::path dir = state_dir() / "private";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  return dir;
}

CtSettings Containers::settings(const std::string& ctid) const {
  return CtSettings::from(CtConfig::load(host_.config_path(ctid)));
}

fs::path Containers::pid_file(const std::string& ctid) const {
  validate_ctid(ctid);
  return run_dir() / (ctid + ".pid");
}

std::optional<pid_t> Containers::running_init(const std::string& ctid) const {
  std::ifstream in(pid_file(ctid));
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0 || !host_.exists(ctid)) return std::nullopt;
  // A pid is only the CT's init while it is still a member of the CT's cgroup tree.
  const fs::path cgroup = host_.cgroup_of(ctid);
  std::ifstream membership("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  std::getline(membership, line);
  const std::string suffix = cgroup.string().substr(cgroup::find_v2_mount().value_or("/").string().size());
  if (line.rfind("0::", 0) != 0) return std::nullopt;
  const std::string path = line.substr(3);
  if (path != suffix && path.rfind(suffix + "/", 0) != 0) return std::nullopt;
  return pid;
}

void Containers::create(const std::string& ctid, const CreateOptions& options) {
  validate_ctid(ctid);
  if (host_.exists(ctid)) throw std::runtime_error("CT " + ctid + " already exists");
  for (const auto& address : options.ip_addresses) validate_ip_address(address);
  if (options.cgroup) {
    if (options.root || options.ostemplate || options.private_area || options.user_namespace.has_value() ||
        !options.ip_addresses.empty() || options.init)
      throw std::invalid_argument("create --cgroup: the other runtime runs the CT; only beancounters apply");
    host_.adopt(ctid, *options.cgroup);
    return;
  }
  const fs::path config_file = host_.config_path(ctid);
  const ConfigLock config_lock(config_file.parent_path());
  const bool had_config = fs::exists(config_file);
  CtConfig config = CtConfig::load(config_file);
  CtSettings::from(config);  // an existing vzctl config must be valid before we build on it

  fs::path unpacked;                      // removed again if a later step fails
  std::optional<fs::path> area_to_place;  // where `unpacked` goes once the CT exists
  bool cgroup_made = false;
  auto undo = [&] {
    if (cgroup_made) host_.destroy(ctid, true);
    if (!unpacked.empty()) fs::remove_all(unpacked);
    if (!had_config) fs::remove(config_file);
  };
  try {
    if (options.root) {
      if (!fs::is_directory(*options.root))
        throw std::runtime_error("--root " + options.root->string() + " is not a directory");
      config.set("VE_ROOT", fs::absolute(*options.root).string());
      config.set("VE_PRIVATE", fs::absolute(*options.root).string());
    } else if (options.ostemplate) {
      if (!fs::is_regular_file(*options.ostemplate))
        throw std::runtime_error("--ostemplate " + options.ostemplate->string() + " is not a file");
      const fs::path area = fs::absolute(options.private_area.value_or(private_areas() / ctid));
      if (fs::exists(area) && !fs::is_empty(area))
        throw std::runtime_error("private area " + area.string() + " exists and is not empty");
      area_to_place = area;
      config.set("VE_ROOT", area.string());
      config.set("VE_PRIVATE", area.string());
      config.set("OSTEMPLATE", fs::absolute(*options.ostemplate).string());
      config.set("UBC_OWNS_PRIVATE", "yes");
    } else if (options.private_area) {
      if (!fs::is_directory(*options.private_area))
        throw std::runtime_error("--private " + options.private_area->string() + " is not a directory");
      config.set("VE_ROOT", fs::absolute(*options.private_area).string());
      config.set("VE_PRIVATE", fs::absolute(*options.private_area).string());
    }
    if (options.hostname) config.set("HOSTNAME", *options.hostname);
    if (!options.ip_addresses.empty()) config.set("IP_ADDRESS", join(options.ip_addresses));
    if (options.init) config.set("INIT", *options.init);
    // A CT with files runs in a user namespace of its own unless asked otherwise (or its
    // existing config says); a bare one (beancounters on a cgroup) has no namespaces.
    const bool has_files = config.get("VE_ROOT").has_value();
    if (!has_files && options.user_namespace)
      throw std::invalid_argument("create --userns: only a CT with files (--root, --ostemplate) runs in namespaces");
    if (!has_files) {
    } else if (options.user_namespace.value_or(!config.get("USERNS") || CtSettings::from(config).user_namespace)) {
      config.set("USERNS", "yes");
      if (!config.get("USERNS_IDMAP"))
        config.set("USERNS_IDMAP", format_user_mapping(free_user_range(config_file.parent_path())));
    } else {
      config.set("USERNS", "no");
    }
    CtSettings::from(config);
    // The config first, naming the area: a create killed at any later point leaves the
    // template unpacked aside (.partial, which doctor --repair or the next create removes)
    // or a CT that destroy removes whole; never files no config names.
    config.save(config_file);
    if (area_to_place) {
      const fs::path partial = partial_area(*area_to_place);
      fs::remove_all(partial);
      fs::create_directories(partial);
      unpacked = partial;
      run_or_throw(
          {"tar", "--numeric-owner", "-xpf", fs::absolute(*options.ostemplate).string(), "-C", partial.string()});
    }
    host_.create(ctid);
    cgroup_made = true;
    if (area_to_place) {
      fs::create_directories(area_to_place->parent_path());
      fs::rename(unpacked, *area_to_place);  // over an empty directory, if one was there
      unpacked.clear();
    }
  } catch (...) {
    undo();
    throw;
  }
}

StartResult Containers::start(const std::string& ctid, bool force) {
  if (!host_.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime starts it");
  if (running_init(ctid)) throw std::runtime_error("CT " + ctid + " is already running");
  const CtSettings ct = settings(ctid);
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
  const fs::path cgroup = host_.cgroup_of(ctid);
  UniqueFd cgroup_fd(::open(cgroup.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd) throw_system_error("open(" + cgroup.string() + ")");
  fs::create_directories(run_dir());
  const UniqueFd console = open_console(run_dir() / (ctid + ".console"));
  int go[2], failed[2];
  if (::pipe2(go, O_CLOEXEC) || ::pipe2(failed, O_CLOEXEC)) throw_system_error("pipe2");
  UniqueFd go_read(go[0]), go_write(go[1]), failed_read(failed[0]), failed_write(failed[1]);
  StartResult result;
  // Device rules before the CT's first task exists: from its first open on, only the
  // standard and granted nodes open, as granted.
  const auto device_rules_for_ct = device_rules(ct.devices);
  DeviceRulesUntilStarted device_rules_guard(host_, ctid);
  if (host_.engine_loaded())
    device_rules_guard.set(device_rules_for_ct);
  else
    result.without_device_rules = "the engine is not loaded (ubcctl load)";
  // The CT's root as the host sees it: the view's files are its.
  const unsigned ct_root_id = ct.user_namespace ? ct.user_mapping.host_first : 0;
  shift_root_ownership(ct.root, ct_root_id);
  const fs::path view_server = helper_path("ubc-procfs");
  std::optional<ns::ProcViewMount> view;
  UniqueFd view_ct_end, view_server_end;
  if (!ns::proc_view_available()) {
    result.without_proc_view = "/dev/fuse does not open (modprobe fuse)";
  } else if (!fs::exists(view_server)) {
    result.without_proc_view = view_server.string() + " is missing";
  } else {
    view = ns::create_proc_view(ct_root_id, ct_root_id);
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends)) throw_system_error("socketpair");
    view_ct_end.reset(ends[0]);
    view_server_end.reset(ends[1]);
  }

  const pid_t init = ns::clone_into_namespaces(cgroup_fd.get(), ct.user_namespace);
  if (init == 0) {
    // The CT's init-to-be, PID 1 of its namespaces: wait until the host has set up what
    // only the host can (user mapping, network), then build the CT's root and exec init.
    try {
      go_write.reset();
      failed_read.reset();
      view_server_end.reset();
      if (view) view->connection.reset();
      char byte = 0;
      if (::read(go_read.get(), &byte, 1) != 1) ::_exit(1);
      if (ct.user_namespace) become_ct_root();
      const std::string hostname = ct.hostname.empty() ? ctid : ct.hostname;
      if (::sethostname(hostname.c_str(), hostname.size())) throw_system_error("sethostname(" + hostname + ")");
      std::optional<ns::ProcViewHandles> view_handles;
      if (view) view_handles = ns::ProcViewHandles{view->mount.get(), view_ct_end.get()};
      ns::enter_root_filesystem(ct.root, ct.devices, view_handles);
      view.reset();
      view_ct_end.reset();
      ns::confine_to_ct(ct.capabilities);
      if (::setsid() < 0) throw_system_error("setsid");
      const int null = ::open("/dev/null", O_RDONLY);
      if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(console.get(), 1) < 0 || ::dup2(console.get(), 2) < 0)
        throw_system_error("setting up init's stdio");
      exec_in_ct(ct.init);
    } catch (const std::exception& error) {
      const std::string message = error.what();
      [[maybe_unused]] auto ignored = ::write(failed_write.get(), message.data(), message.size());
      ::_exit(1);
    }
  }
  go_read.reset();
  failed_write.reset();
  view_ct_end.reset();
  if (view) view->mount.reset();
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
    if (view) {
      spawn_detached(view_server, {ctid, std::to_string(init), std::to_string(ct_root_id)},
                     {view->connection.get(), view_server_end.get()}, console.get());
      view->connection.reset();
      view_server_end.reset();
    }
  } catch (...) {
    abandon();
    throw;
  }
  if (::write(go_write.get(), "g", 1) != 1) {
    abandon();
    throw_system_error("starting CT " + ctid);
  }
  go_write.reset();
  // The pipe closes on init's exec; anything written to it first is why it failed.
  std::string why;
  char buffer[512];
  for (ssize_t got; (got = ::read(failed_read.get(), buffer, sizeof buffer)) != 0;) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;
    why.append(buffer, static_cast<std::size_t>(got));
  }
  if (!why.empty()) {
    ::waitpid(init, nullptr, 0);
    fs::remove(pid_file(ctid));
    throw std::runtime_error("CT " + ctid + " did not start: " + why);
  }
  device_rules_guard.keep();
  return result;
}

void Containers::stop(const std::string& ctid, std::chrono::seconds timeout) {
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime stops it");
  const auto init = running_init(ctid);
  const fs::path cgroup = host_.cgroup_of(ctid);
  // Without an init, processes left by a start that was killed half-way are still stopped.
  if (!init && !(host_.exists(ctid) && cgroup::is_populated(cgroup)))
    throw std::runtime_error("CT " + ctid + " is not running");
  if (init) ::kill(*init, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (cgroup::is_populated(cgroup) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  cgroup::kill_all(cgroup, kKillTimeoutMs);
  if (init) ::waitpid(*init, nullptr, WNOHANG);  // our child when this process started it
  // Cgroups the CT made inside its own are its business only while it runs.
  for (const auto& entry : fs::directory_iterator(cgroup))
    if (entry.is_directory()) cgroup::remove_tree(entry.path());
  fs::remove(pid_file(ctid));
  if (host_.engine_loaded()) host_.clear_device_rules(ctid);
}

int Containers::restore_device_rules() {
  int restored = 0;
  for (const auto& ctid : host_.list()) {
    if (!running_init(ctid)) continue;
    host_.set_device_rules(ctid, device_rules(settings(ctid).devices));
    ++restored;
  }
  return restored;
}

CtStatus Containers::status(const std::string& ctid) {
  CtStatus status;
  status.ctid = ctid;
  status.exists = host_.exists(ctid);
  if (!status.exists) return status;
  const CtSettings ct = settings(ctid);
  status.mounted = !ct.root.empty() && fs::is_directory(ct.root);
  status.init_pid = running_init(ctid);
  status.running = status.init_pid.has_value();
  status.capabilities = status.running ? ns::bounding_set_of(*status.init_pid) : ct.capabilities;
  return status;
}

std::vector<ListEntry> Containers::list() {
  std::vector<ListEntry> entries;
  for (const auto& ctid : host_.list()) {
    ListEntry entry;
    entry.ctid = ctid;
    const CtSettings ct = settings(ctid);
    const auto init = running_init(ctid);
    entry.running = init.has_value();
    entry.capabilities = init ? ns::bounding_set_of(*init) : ct.capabilities;
    entry.ip_addresses = ct.ip_addresses;
    entry.hostname = ct.hostname;
    if (host_.engine_loaded())
      entry.nproc = host_.counter(ctid, UBC_NUMPROC).held;
    else
      entry.nproc = cgroup::member_pids(host_.cgroup_of(ctid)).size();
    entries.push_back(std::move(entry));
  }
  return entries;
}

int Containers::exec(const std::string& ctid, const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("exec needs a command");
  const auto init = running_init(ctid);
  if (!init) return host_.exec(ctid, argv);
  const CapabilitySet capabilities = ns::bounding_set_of(*init);
  const std::string procs = (host_.cgroup_of(ctid) / "cgroup.procs").string();
  const pid_t child = ::fork();
  if (child < 0) throw_system_error("fork");
  if (child == 0) {
    try {
      ns::hide_from_ct_processes();
      if (cgroup::enter_from_child(procs.c_str())) throw_system_error("entering " + procs);
      const bool own_users = ns::has_own_user_namespace(*init);
      ns::join_namespaces(*init);
      // Joining a pid namespace only places children in it.
      const pid_t inner = ::fork();
      if (inner < 0) throw_system_error("fork");
      if (inner == 0) {
        if (own_users) become_ct_root();
        ns::confine_to_ct(capabilities);
        exec_in_ct(argv);
      }
      int status = 0;
      while (::waitpid(inner, &status, 0) < 0)
        if (errno != EINTR) throw_system_error("waitpid");
      ::_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubcctl: exec in CT %s: %s\n", ctid.c_str(), error.what());
      ::_exit(errno == ENOENT ? 127 : 126);
    }
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) throw_system_error("waitpid");
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int Containers::enter(const std::string& ctid) {
  const auto init = running_init(ctid);
  if (!init) throw std::runtime_error("CT " + ctid + " is not running");
  const bool own_users = ns::has_own_user_namespace(*init);
  const CapabilitySet capabilities = ns::bounding_set_of(*init);
  return run_on_ct_pty(*init, (host_.cgroup_of(ctid) / "cgroup.procs").string(), [own_users, capabilities] {
    ns::hide_from_ct_processes();
    if (own_users) become_ct_root();
    ns::confine_to_ct(capabilities);
    exec_in_ct({"/bin/sh", "-l"});
  });
}

void Containers::clone(const std::string& ctid, const std::string& new_ctid) {
  validate_ctid(new_ctid);
  if (!host_.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  if (host_.exists(new_ctid)) throw std::runtime_error("CT " + new_ctid + " already exists");
  const fs::path new_config_file = host_.config_path(new_ctid);
  if (fs::exists(new_config_file)) throw std::runtime_error(new_config_file.string() + " already exists");
  const ConfigLock config_lock(new_config_file.parent_path());
  const CtSettings source = settings(ctid);
  CtConfig config = CtConfig::load(host_.config_path(ctid));
  fs::path copy;
  try {
    if (!source.private_area.empty()) {
      copy = private_areas() / new_ctid;
      if (fs::exists(copy)) throw std::runtime_error("private area " + copy.string() + " already exists");
      fs::create_directories(copy);
      run_or_throw({"cp", "-a", "--", (source.private_area / ".").string(), copy.string()});
      config.set("VE_ROOT", copy.string());
      config.set("VE_PRIVATE", copy.string());
      config.set("UBC_OWNS_PRIVATE", "yes");
    }
    // A clone is a new identity: no addresses of the original, and a user id range of its
    // own (its files are shifted into it at its first start).
    config.erase("IP_ADDRESS");
    if (source.user_namespace)
      config.set("USERNS_IDMAP", format_user_mapping(free_user_range(new_config_file.parent_path())));
    config.save(new_config_file);
    host_.create(new_ctid);
  } catch (...) {
    if (!copy.empty()) fs::remove_all(copy);
    fs::remove(new_config_file);
    throw;
  }
}

void Containers::destroy(const std::string& ctid, bool force) {
  // A destroy killed after the cgroup went leaves the files ubc unpacked and the config:
  // destroying again finishes the job.
  const bool files_left = [&] {
    const CtConfig config = CtConfig::load(host_.config_path(ctid));
    const auto area = config.get("VE_PRIVATE");
    return config.get("UBC_OWNS_PRIVATE") == "yes" && area && !area->empty() && fs::exists(*area);
  }();
  if (!host_.exists(ctid) && !files_left) throw std::runtime_error("CT " + ctid + " does not exist");
  if (running_init(ctid)) {
    if (!force) throw std::runtime_error("CT " + ctid + " is running; stop it first or use --force");
    stop(ctid, std::chrono::seconds(10));
  }
  const fs::path config_file = host_.config_path(ctid);
  const CtConfig config = CtConfig::load(config_file);
  const auto owned_area = config.get("UBC_OWNS_PRIVATE") == "yes" ? config.get("VE_PRIVATE") : std::nullopt;
  // Before anything goes: files ubc unpacked are removed, never what is mounted among them.
  if (owned_area && !owned_area->empty())
    if (const auto mounts = ns::mounts_under(*owned_area); !mounts.empty())
      throw std::runtime_error("CT " + ctid + ": " + mounts.front().string() +
                               " is a mount point in its private area; unmount it first (nothing was removed)");
  if (host_.exists(ctid)) host_.destroy(ctid, force);
  if (owned_area && !owned_area->empty()) fs::remove_all(*owned_area);
  // vzctl keeps a destroyed CT's config as CTID.conf.destroyed.
  if (fs::exists(config_file)) fs::rename(config_file, config_file.string() + ".destroyed");
  fs::remove(pid_file(ctid));
}

}  // namespace ubc
