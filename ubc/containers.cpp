#include "ubc/containers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "loader/cgroup.h"
#include "loader/child_process.h"
#include "loader/ct_confinement.h"
#include "loader/error.h"
#include "loader/id_quota.h"
#include "loader/namespaces.h"
#include "loader/open_in_root.h"
#include "loader/unique_fd.h"
#include "ubc/ct_console.h"
#include "ubc/ct_devices.h"
#include "ubc/ct_network.h"
#include "ubc/ct_process.h"
#include "ubc/os_templates.h"
#include "ubc/run_command.h"
#include "ubc/ugid_quota.h"
#include "ubc/userns_ranges.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

constexpr int kKillTimeoutMs = 10000;

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// A template and the private area it is unpacked into once the CT exists.
struct TemplatePlacement {
  fs::path tarball, area;
};

// Where a new CT's files are, written into its config: a directory used as it is (--root,
// --private), or a template's private area.
std::optional<TemplatePlacement> place_files(CtConfig& config, const std::string& ctid, const CreateOptions& options) {
  auto use_directory = [&config](const fs::path& dir, const char* option) {
    if (!fs::is_directory(dir))
      throw std::runtime_error(std::string(option) + " " + dir.string() + " is not a directory");
    config.set("VE_ROOT", fs::absolute(dir).string());
    config.set("VE_PRIVATE", fs::absolute(dir).string());
  };
  if (options.root) {
    use_directory(*options.root, "--root");
  } else if (options.ostemplate) {
    const fs::path tarball = find_os_template(*options.ostemplate);
    const fs::path area = fs::absolute(options.private_area.value_or(private_areas() / ctid));
    if (fs::exists(area) && !fs::is_empty(area))
      throw std::runtime_error("private area " + area.string() + " exists and is not empty");
    config.set("VE_ROOT", area.string());
    config.set("VE_PRIVATE", area.string());
    // A name, as vzctl's configs had it, where the CT was made from one.
    config.set("OSTEMPLATE", is_os_template_name(*options.ostemplate) ? *options.ostemplate : tarball.string());
    config.set("UBC_OWNS_PRIVATE", "yes");
    return TemplatePlacement{tarball, area};
  } else if (options.private_area) {
    use_directory(*options.private_area, "--private");
  }
  return std::nullopt;
}

// A CT with files runs in a user namespace of its own (a free host uid range) unless asked
// otherwise, or its existing config says so; a bare one (beancounters on a cgroup) has no
// namespaces.
void choose_user_namespace(CtConfig& config, const CreateOptions& options, const fs::path& config_dir) {
  const bool has_files = config.get("VE_ROOT").has_value();
  if (!has_files && options.user_namespace)
    throw std::invalid_argument("create --userns: only a CT with files (--root, --ostemplate) runs in namespaces");
  if (!has_files) return;
  if (options.user_namespace.value_or(!config.get("USERNS") || CtSettings::from(config).user_namespace)) {
    config.set("USERNS", "yes");
    if (!config.get("USERNS_IDMAP")) config.set("USERNS_IDMAP", format_user_mapping(free_user_range(config_dir)));
  } else {
    config.set("USERNS", "no");
  }
}

// A CT made from a template gets a machine id of its own where the template left it empty
// (as ubc-mkrootfs --dist does): systemd would otherwise make a new one at every boot, and
// the journal of the boots before would be another machine's. Resolved inside the unpacked
// tree: a tarball's `etc` may be a symlink to the host's.
void give_machine_id(const fs::path& root) {
  const UniqueFd file = open_in_root(root, "etc/machine-id", O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
  struct stat info {};
  if (!file || ::fstat(file.get(), &info) || !S_ISREG(info.st_mode) || info.st_size != 0) return;
  unsigned char bytes[16];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) throw_system_error("getrandom");
  std::string id;
  for (unsigned char byte : bytes) {
    constexpr const char* kHex = "0123456789abcdef";
    id += kHex[byte >> 4];
    id += kHex[byte & 15];
  }
  id += '\n';
  if (::write(file.get(), id.data(), id.size()) != static_cast<ssize_t>(id.size()))
    throw_system_error("write(" + (root / "etc/machine-id").string() + ")");
}

// What asks a CT's init to shut down, as vzctl's `halt` inside did: systemd halts on
// SIGRTMIN+3 (SIGTERM makes it re-execute itself); other inits end on SIGTERM.
int halt_signal(pid_t init) {
  std::error_code error;
  const fs::path program = fs::read_symlink("/proc/" + std::to_string(init) + "/exe", error);
  return !error && program.filename() == "systemd" ? SIGRTMIN + 3 : SIGTERM;
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
  return ct_pid_file(ctid);
}

std::optional<fs::path> Containers::cgroup_in_ct(const std::string& ctid, pid_t pid) const {
  const fs::path cgroup = host_.cgroup_of(ctid);
  std::ifstream membership("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  std::getline(membership, line);
  const fs::path mount = cgroup::find_v2_mount().value_or("/");
  const std::string suffix = cgroup.string().substr(mount.string().size());
  if (line.rfind("0::", 0) != 0) return std::nullopt;
  const std::string path = line.substr(3);
  if (path != suffix && path.rfind(suffix + "/", 0) != 0) return std::nullopt;
  return mount / path.substr(1);
}

std::optional<pid_t> Containers::running_init(const std::string& ctid) const {
  std::ifstream in(pid_file(ctid));
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0 || !host_.exists(ctid)) return std::nullopt;
  // A pid is only the CT's init while it is still a member of the CT's cgroup tree.
  if (!cgroup_in_ct(ctid, pid)) return std::nullopt;
  return pid;
}

std::string Containers::procs_beside_init(const std::string& ctid, pid_t init) const {
  const auto cgroup = cgroup_in_ct(ctid, init);
  if (!cgroup) throw std::runtime_error("CT " + ctid + " stopped");
  return (*cgroup / "cgroup.procs").string();
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

  fs::path unpacked;                          // removed again if a later step fails
  std::optional<TemplatePlacement> to_place;  // `unpacked` goes to its area once the CT exists
  bool cgroup_made = false;
  auto undo = [&] {
    if (cgroup_made) host_.destroy(ctid, true);
    if (!unpacked.empty()) fs::remove_all(unpacked);
    if (!had_config) fs::remove(config_file);
  };
  try {
    to_place = place_files(config, ctid, options);
    if (options.hostname) config.set("HOSTNAME", *options.hostname);
    if (!options.ip_addresses.empty()) config.set("IP_ADDRESS", join(options.ip_addresses));
    if (options.init) config.set("INIT", *options.init);
    choose_user_namespace(config, options, config_file.parent_path());
    CtSettings::from(config);
    // The config first, naming the area: a create killed at any later point leaves the
    // template unpacked aside (.partial: half-unpacked before the CT's cgroup is made, and
    // removed by doctor --repair or the next create; whole after it, and moved into place by
    // doctor --repair), or a CT that destroy removes whole; never files no config names.
    config.save(config_file);
    if (to_place) {
      const fs::path partial = partial_area(to_place->area);
      fs::remove_all(partial);
      fs::create_directories(partial);
      unpacked = partial;
      run_or_throw({"tar", "--numeric-owner", "-xpf", to_place->tarball.string(), "-C", partial.string()});
      give_machine_id(partial);
    }
    host_.create(ctid);
    cgroup_made = true;
    if (to_place) {
      fs::create_directories(to_place->area.parent_path());
      fs::rename(unpacked, to_place->area);  // over an empty directory, if one was there
      unpacked.clear();
    }
  } catch (...) {
    undo();
    throw;
  }
}

void Containers::stop(const std::string& ctid, std::chrono::seconds timeout) {
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime stops it");
  const auto init = running_init(ctid);
  const fs::path cgroup = host_.cgroup_of(ctid);
  // Without an init, processes left by a start that was killed half-way are still stopped.
  if (!init && !(host_.exists(ctid) && cgroup::is_populated(cgroup)))
    throw std::runtime_error("CT " + ctid + " is not running");
  // A suspended CT's init would take its halt signal only once thawed.
  if (host_.exists(ctid) && frozen(ctid)) cgroup::set_frozen(cgroup, false, kKillTimeoutMs);
  if (init) ::kill(*init, halt_signal(*init));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (cgroup::is_populated(cgroup) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  end_run(ctid, init);
}

void Containers::end_run(const std::string& ctid, std::optional<pid_t> init) {
  const fs::path cgroup = host_.cgroup_of(ctid);
  if (frozen(ctid)) cgroup::set_frozen(cgroup, false, kKillTimeoutMs);
  cgroup::kill_all(cgroup, kKillTimeoutMs);
  if (init) ::waitpid(*init, nullptr, WNOHANG);  // our child when this process started it
  // Cgroups the CT made inside its own are its business only while it runs.
  cgroup::reset_subtree(cgroup);
  fs::remove(pid_file(ctid));
  remove_running_ugid_limit(ctid);
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
  status.suspended = status.running ? frozen(ctid) : checkpointed(ctid);
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
    entry.suspended = entry.running ? frozen(ctid) : checkpointed(ctid);
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
  refuse_if_suspended(ctid, "exec");
  const CapabilitySet capabilities = ns::bounding_set_of(*init);
  const std::string procs = procs_beside_init(ctid, *init);
  const UniqueFd supervisor = connect_ct_call_service(ctid);
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
        ns::confine_to_ct(capabilities, supervisor ? supervisor.get() : -1);
        exec_in_ct(argv);
      }
      ::_exit(wait_for_exit(inner));
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubcctl: exec in CT %s: %s\n", ctid.c_str(), error.what());
      ::_exit(errno == ENOENT ? 127 : 126);
    }
  }
  return wait_for_exit(child);
}

int Containers::enter(const std::string& ctid) {
  const auto init = running_init(ctid);
  if (!init) throw std::runtime_error("CT " + ctid + " is not running");
  refuse_if_suspended(ctid, "enter");
  const bool own_users = ns::has_own_user_namespace(*init);
  const CapabilitySet capabilities = ns::bounding_set_of(*init);
  const UniqueFd supervisor = connect_ct_call_service(ctid);
  return run_on_ct_pty(*init, procs_beside_init(ctid, *init), [own_users, capabilities, &supervisor] {
    ns::hide_from_ct_processes();
    if (own_users) become_ct_root();
    ns::confine_to_ct(capabilities, supervisor ? supervisor.get() : -1);
    exec_login_shell();
  });
}

void Containers::console(const std::string& ctid) {
  if (!running_init(ctid)) throw std::runtime_error("CT " + ctid + " is not running");
  attach_console(ctid, console_socket(ctid));
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
  // Its users' and groups' quota limits stay on the filesystem after its files: gone before
  // its range of ids can go to a new CT.
  if (const auto root = config.get("VE_ROOT"); config.get("USERNS_IDMAP") && root && fs::exists(*root)) {
    const auto range = parse_user_mapping(*config.get("USERNS_IDMAP"));
    quota::clear_id_limits(*root, range.host_first, range.count);
  }
  if (host_.exists(ctid)) host_.destroy(ctid, force);
  if (owned_area && !owned_area->empty()) fs::remove_all(*owned_area);
  // Its checkpoint would restore into nothing (vzctl destroy removed the dump too).
  fs::remove_all(default_dump_dir(ctid));
  // vzctl keeps a destroyed CT's config as CTID.conf.destroyed.
  if (fs::exists(config_file)) fs::rename(config_file, config_file.string() + ".destroyed");
  fs::remove(pid_file(ctid));
}

}  // namespace ubc
