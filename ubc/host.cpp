#include "ubc/host.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "loader/cgroup.h"
#include "loader/child_process.h"
#include "loader/error.h"
#include "loader/namespaces.h"
#include "loader/scheduler.h"
#include "loader/slot_access.h"
#include "loader/unique_fd.h"
#include "sched/cpu_cgroup.h"
#include "ubc/cpu_settings.h"
#include "ubc/ct_config.h"
#include "ubc/kernel_counters.h"
#include "ubc/usage_reader.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

constexpr int kKillTimeoutMs = 10000;

// Serialises slot assignment between concurrent ubcctl processes.
class HostLock {
 public:
  explicit HostLock(const fs::path& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (!fd_) throw_system_error("open(" + dir.string() + ")");
    if (::flock(fd_.get(), LOCK_EX)) throw_system_error("flock(" + dir.string() + ")");
  }

 private:
  UniqueFd fd_;
};

std::uint64_t page_size() {
  return static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// The kernel-kept rows need the memory controller in every CT: enable it on the path from
// the cgroup root down to the CTs' parent (the parent's parent may be the root itself).
bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  for (std::string seen; in >> seen;)
    if (seen == word) return true;
  return false;
}

// The controllers every CT gets, on the path from the cgroup root down to the CTs' parent
// (the parent's parent may be the root itself): memory, which the page rows are read from,
// and, where the kernel has them, cpu and cpuset, which carry the CPU policy, and io, whose
// io.stat is the CT's /proc/diskstats.
void enable_controllers(const fs::path& ct_parent) {
  for (const fs::path& dir : {ct_parent.parent_path(), ct_parent}) {
    const std::string available = cgroup::read_file(dir / "cgroup.controllers");
    if (!has_word(available, "memory"))
      throw std::runtime_error("the cgroup v2 memory controller is not available in " + dir.string() +
                               "; ubc reads its page rows from it");
    const std::string enabled = cgroup::read_file(dir / "cgroup.subtree_control");
    for (const char* controller : {"memory", "cpu", "cpuset", "io"})
      if (has_word(available, controller) && !has_word(enabled, controller))
        cgroup::write_file(dir / "cgroup.subtree_control", std::string("+") + controller);
  }
}

}  // namespace

HostPaths HostPaths::discover() {
  HostPaths paths;
  if (const char* root = std::getenv("UBC_CGROUP_ROOT"); root && *root) {
    paths.cgroup_root = fs::path(root).lexically_normal();
    if (!paths.cgroup_root.has_filename()) paths.cgroup_root = paths.cgroup_root.parent_path();
  } else {
    auto mount = cgroup::find_v2_mount();
    if (!mount)
      throw std::runtime_error(
          "no cgroup v2 hierarchy is mounted; ubc needs one "
          "(mount -t cgroup2 none /sys/fs/cgroup)");
    paths.cgroup_root = *mount / "ubc";
  }
  const char* pins = std::getenv("UBC_PIN_DIR");
  paths.pin_dir = pins && *pins ? fs::path(pins) : kDefaultPinDir;
  return paths;
}

void validate_ctid(const std::string& ctid) {
  // Every command checks every id it touches, thousands per whole-host read: no std::regex.
  auto alphanumeric = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  const bool valid = !ctid.empty() && ctid.size() <= 64 && alphanumeric(ctid.front()) &&
                     std::all_of(ctid.begin(), ctid.end(),
                                 [&](char c) { return alphanumeric(c) || c == '_' || c == '.' || c == '-'; });
  if (!valid)
    throw std::invalid_argument("invalid CT id '" + ctid +
                                "': use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit");
}

fs::path ct_pid_file(const std::string& ctid) {
  validate_ctid(ctid);
  return run_dir() / (ctid + ".pid");
}

Host::Host(HostPaths paths) : paths_(std::move(paths)) {}

Engine& Host::engine() {
  if (!engine_) engine_.emplace(Engine::open(paths_.pin_dir));
  return *engine_;
}

bool Host::reopen_if_replaced() {
  if (!engine_ || engine_->is_pinned_in(paths_.pin_dir)) return false;
  engine_.reset();
  return true;
}

bool Host::engine_loaded() const {
  return Engine::is_loaded(paths_.pin_dir);
}

Host::LoadReport Host::load_engine(const EngineSizing& sizing) {
  LoadReport report;
  const auto mount = cgroup::find_v2_mount();
  if (!mount) throw std::runtime_error("no cgroup2 mount");
  report.remounted_nsdelegate = cgroup::ensure_nsdelegate(*mount);
  fs::create_directories(paths_.cgroup_root);
  enable_controllers(paths_.cgroup_root);
  Engine::load(paths_.pin_dir, sizing);
  try {
    HostLock lock(paths_.cgroup_root);
    for (const auto& ctid : list()) register_cgroup(ctid);
  } catch (...) {
    Engine::unload(paths_.pin_dir);
    throw;
  }
  return report;
}

void Host::unload_engine() {
  if (Scheduler::is_pinned(paths_.pin_dir)) Scheduler::unload(paths_.pin_dir);
  engine_.reset();
  Engine::unload(paths_.pin_dir);
}

std::optional<std::uint32_t> Host::slot_index(const std::string& ctid) {
  const fs::path cgroup = cgroup_of(ctid);
  if (!fs::is_directory(cgroup)) return std::nullopt;
  return engine().find_slot(cgroup::id_of(cgroup));
}

fs::path Host::cgroup_of(const std::string& ctid) const {
  validate_ctid(ctid);
  if (auto adopted = adopted_cgroup(ctid)) return *adopted;
  return paths_.cgroup_root / ctid;
}

fs::path Host::helper_cgroup_of(const std::string& ctid) const {
  validate_ctid(ctid);
  return paths_.cgroup_root.parent_path() / (paths_.cgroup_root.filename().string() + "-helpers") / ctid;
}

fs::path Host::prepare_helper_cgroup(const std::string& ctid) {
  const fs::path helpers = helper_cgroup_of(ctid);
  std::error_code error;
  fs::create_directories(helpers.parent_path(), error);
  if (!error) enable_controllers(helpers.parent_path());
  fs::create_directories(helpers, error);
  if (error) throw std::runtime_error("creating the helper cgroup " + helpers.string() + ": " + error.message());
  if (engine_loaded()) engine().set_helper_cgroup(cgroup::id_of(helpers), cgroup::id_of(cgroup_of(ctid)));
  sched::copy_cpu_policy(cgroup_of(ctid), helpers);  // what holds them without ubc's scheduler
  return helpers;
}

std::optional<fs::path> Host::adopted_cgroup(const std::string& ctid) const {
  const fs::path file = config_path(ctid);
  struct stat info {};
  if (::stat(file.c_str(), &info)) {
    adoptions_.erase(ctid);
    return std::nullopt;
  }
  Adoption& known = adoptions_[ctid];
  const bool unchanged = known.inode == info.st_ino && known.size == info.st_size &&
                         known.modified.tv_sec == info.st_mtim.tv_sec && known.modified.tv_nsec == info.st_mtim.tv_nsec;
  if (unchanged) return known.cgroup;
  // Configs are replaced whole (a new inode) or rewritten (a new mtime): either is seen.
  const auto path = CtConfig::load(file).get(kAdoptedCgroupKey);
  known = {info.st_ino, info.st_size, info.st_mtim,
           path && !path->empty() ? std::optional<fs::path>(*path) : std::nullopt};
  return known.cgroup;
}

bool Host::exists(const std::string& ctid) const {
  return fs::is_directory(cgroup_of(ctid));
}

std::vector<std::string> Host::list() const {
  std::vector<std::string> ids;
  if (fs::is_directory(paths_.cgroup_root))
    for (const auto& entry : fs::directory_iterator(paths_.cgroup_root))
      if (entry.is_directory()) ids.push_back(entry.path().filename());
  // CTs on cgroups another runtime made are known by their config files.
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(config_dir(), ignored)) {
    if (entry.path().extension() != ".conf") continue;
    const std::string ctid = entry.path().stem();
    try {
      validate_ctid(ctid);
      if (auto adopted = adopted_cgroup(ctid); adopted && fs::is_directory(*adopted)) ids.push_back(ctid);
    } catch (const std::exception&) {
      // not a CT's config, or a broken one: `load` and the CT's own commands report it
    }
  }
  // Numeric CT ids in numeric order (vzlist's), names after them.
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    const bool a_numeric = std::all_of(a.begin(), a.end(), ::isdigit);
    const bool b_numeric = std::all_of(b.begin(), b.end(), ::isdigit);
    if (a_numeric != b_numeric) return a_numeric;
    if (a_numeric && a.size() != b.size()) return a.size() < b.size();
    return a < b;
  });
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::optional<std::string> Host::ctid_of_cgroup(std::uint64_t cgroup_id) const {
  for (const auto& ctid : list())
    if (cgroup::id_of(cgroup_of(ctid)) == cgroup_id) return ctid;
  return std::nullopt;
}

fs::path Host::config_path(const std::string& ctid) const {
  validate_ctid(ctid);
  return config_dir() / (ctid + ".conf");
}

void Host::register_cgroup(const std::string& ctid) {
  const fs::path cgroup = cgroup_of(ctid);
  const std::uint64_t cgroup_id = cgroup::id_of(cgroup);
  if (engine().find_slot(cgroup_id)) return;
  const std::uint32_t slot = engine().claim_slot(cgroup_id);
  try {
    // Limits saved with `set --save` apply from the start; a bad file refuses the CT whole.
    for (const auto& [resource, limits] : CtConfig::load(config_path(ctid)).beancounters(page_size())) {
      engine().set_slot_limits(slot, resource, limits.barrier, limits.limit);
      if (const auto file = resource_info(resource).memcg_limit_file; !file.empty())
        cgroup::write_file(cgroup / file, memcg_limit_text(limits.limit, page_size()));
    }
    sched::apply_cpu_settings(cgroup, cpu_settings_from(CtConfig::load(config_path(ctid))));
    // A CT started before this engine was loaded keeps its helpers in the CT's CPU group.
    if (const fs::path helpers = helper_cgroup_of(ctid); fs::is_directory(helpers))
      engine().set_helper_cgroup(cgroup::id_of(helpers), cgroup_id);
    engine().bind_slot(cgroup_id, slot);
  } catch (...) {
    engine().release_slot(slot);
    throw;
  }
}

std::vector<std::string> Host::reconcile() {
  std::vector<std::string> repairs;
  if (!engine_loaded()) return repairs;
  fs::create_directories(paths_.cgroup_root);
  HostLock lock(paths_.cgroup_root);
  std::map<std::uint64_t, std::string> ct_of_cgroup;
  for (const auto& ctid : list()) {
    std::error_code gone;  // removed meanwhile: no CT to register
    if (fs::is_directory(cgroup_of(ctid), gone)) ct_of_cgroup[cgroup::id_of(cgroup_of(ctid))] = ctid;
  }
  for (const auto& binding : engine().bindings()) {
    if (ct_of_cgroup.contains(binding.cgroup_id)) continue;
    forget(binding.cgroup_id);
    repairs.push_back("slot " + std::to_string(binding.slot) + ": unbound from cgroup id " +
                      std::to_string(binding.cgroup_id) + ", which is no CT's any more");
  }
  for (const std::uint32_t slot : engine().unbound_slots_in_use()) {
    engine().release_slot(slot);
    repairs.push_back("slot " + std::to_string(slot) + ": freed (marked in use, bound to no cgroup)");
  }
  for (const auto& [cgroup_id, ctid] : ct_of_cgroup) {
    if (engine().find_slot(cgroup_id)) continue;
    register_cgroup(ctid);
    repairs.push_back("CT " + ctid + ": registered with the engine (its cgroup was not)");
  }
  return repairs;
}

void Host::create(const std::string& ctid) {
  const fs::path cgroup = cgroup_of(ctid);
  engine();  // fail before touching anything when the engine is not loaded
  fs::create_directories(paths_.cgroup_root);
  enable_controllers(paths_.cgroup_root);
  HostLock lock(paths_.cgroup_root);
  if (::mkdir(cgroup.c_str(), 0755)) {
    if (errno == EEXIST) throw std::runtime_error("CT " + ctid + " already exists");
    throw_system_error("mkdir(" + cgroup.string() + ")");
  }
  try {
    register_cgroup(ctid);
  } catch (...) {
    ::rmdir(cgroup.c_str());
    throw;
  }
}

void Host::adopt(const std::string& ctid, const fs::path& cgroup) {
  validate_ctid(ctid);
  engine();
  const fs::path config_file = config_path(ctid);
  if (exists(ctid)) throw std::runtime_error("CT " + ctid + " already exists");
  const auto mount = cgroup::find_v2_mount();
  const fs::path path = fs::weakly_canonical(cgroup);
  if (!mount || !fs::exists(path / "cgroup.procs") || path.string().rfind(mount->string() + "/", 0) != 0)
    throw std::invalid_argument("--cgroup " + cgroup.string() + " is not a cgroup v2 directory below " +
                                (mount ? mount->string() : std::string("a cgroup2 mount")));
  // The engine finds a task's CT among its cgroup's ancestors down to a fixed depth.
  const fs::path below_root = fs::relative(path, *mount);
  const auto level = std::distance(below_root.begin(), below_root.end());
  if (level > UBC_MAX_CGROUP_DEPTH)
    throw std::invalid_argument("--cgroup " + path.string() + " is " + std::to_string(level) +
                                " levels below the cgroup root; the engine charges CTs at most " +
                                std::to_string(UBC_MAX_CGROUP_DEPTH) + " levels deep");
  const fs::path root = fs::weakly_canonical(paths_.cgroup_root);
  if (path == root || path.string().rfind(root.string() + "/", 0) == 0)
    throw std::invalid_argument("--cgroup " + path.string() + " is inside ubc's own CT tree " + root.string());
  for (const auto& other : list())
    if (cgroup::id_of(cgroup_of(other)) == cgroup::id_of(path))
      throw std::runtime_error(path.string() + " is CT " + other + " already");
  if (!fs::exists(path / "memory.stat"))
    throw std::runtime_error("the memory controller is not enabled for " + path.string() +
                             " (enable it in its parent's cgroup.subtree_control); ubc reads its page rows from it");
  fs::create_directories(paths_.cgroup_root);
  HostLock lock(paths_.cgroup_root);  // the one lock every slot assignment takes
  const ConfigLock config_lock(config_file.parent_path());
  const bool had_config = fs::exists(config_file);
  CtConfig config = CtConfig::load(config_file);
  config.set(kAdoptedCgroupKey, path.string());
  config.save(config_file);
  try {
    register_cgroup(ctid);
  } catch (...) {
    if (had_config) {
      config.erase(kAdoptedCgroupKey);
      config.save(config_file);
    } else {
      fs::remove(config_file);
    }
    throw;
  }
}

void Host::destroy(const std::string& ctid, bool kill) {
  const fs::path cgroup = cgroup_of(ctid);
  if (!exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  const bool adopted = adopted_cgroup(ctid).has_value();
  fs::create_directories(paths_.cgroup_root);
  HostLock lock(paths_.cgroup_root);
  if (adopted) {
    // Another runtime's cgroup: forget it, never touch its processes or its directory.
    forget(cgroup::id_of(cgroup));
    const ConfigLock config_lock(config_path(ctid).parent_path());
    CtConfig config = CtConfig::load(config_path(ctid));
    config.erase(kAdoptedCgroupKey);
    config.save(config_path(ctid));
    return;
  }
  if (cgroup::is_populated(cgroup)) {
    if (!kill) throw std::runtime_error("CT " + ctid + " has running processes; stop them or use --force");
    cgroup::kill_all(cgroup, kKillTimeoutMs);
  }
  // The slot goes first: killed between the two, a cgroup without a slot is left, which
  // the next destroy (or reconcile) finishes; never a slot bound to a cgroup that is gone.
  forget(cgroup::id_of(cgroup));
  cgroup::remove_tree(cgroup);
  if (const fs::path helpers = helper_cgroup_of(ctid); fs::is_directory(helpers)) {
    cgroup::kill_all(helpers, kKillTimeoutMs);
    if (engine_loaded()) engine().forget_helper_cgroup(cgroup::id_of(helpers));
    cgroup::remove_tree(helpers);
  }
  fs::remove(live_cpu_settings_file(ctid));
}

void Host::forget(std::uint64_t cgroup_id) {
  if (!engine_loaded()) return;
  if (auto slot = engine().find_slot(cgroup_id)) {
    engine().unbind_slot(cgroup_id);
    engine().release_slot(*slot);
  }
}

std::uint32_t Host::registered_slot(const std::string& ctid) {
  const fs::path cgroup = cgroup_of(ctid);
  if (!exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  auto slot = engine().find_slot(cgroup::id_of(cgroup));
  if (!slot) throw std::runtime_error("CT " + ctid + " is not registered with the engine; run `ubcctl load`");
  return *slot;
}

void Host::set_limits(const std::string& ctid, ubc_resource resource, const Limits& limits) {
  const ResourceInfo& info = resource_info(resource);
  if (limits.barrier > limits.limit) throw std::invalid_argument(std::string(info.name) + ": barrier is above limit");
  const std::uint32_t slot = registered_slot(ctid);
  // The kernel enforces these rows itself: it gets the limit first, so a refused write
  // leaves the slot as it was.
  if (const auto file = info.memcg_limit_file; !file.empty())
    cgroup::write_file(cgroup_of(ctid) / file, memcg_limit_text(limits.limit, page_size()));
  engine().set_slot_limits(slot, resource, limits.barrier, limits.limit);
}

ContainerUsage Host::usage(const std::string& ctid) {
  const CtToRead ct{ctid, cgroup_of(ctid), registered_slot(ctid)};
  auto read = read_usage(engine(), paths_.pin_dir, std::span(&ct, 1));
  if (read.empty()) throw std::runtime_error("CT " + ctid + " does not exist");
  return std::move(read.front());
}

Host::HostUsage Host::usage_of_all() {
  std::map<std::uint64_t, std::uint32_t> slot_of_cgroup;
  for (const auto& binding : engine().bindings()) slot_of_cgroup[binding.cgroup_id] = binding.slot;
  std::vector<CtToRead> cts;
  HostUsage read;
  for (const auto& ctid : list()) {
    const fs::path cgroup = cgroup_of(ctid);
    struct stat info {};
    if (::stat(cgroup.c_str(), &info)) continue;  // destroyed since it was listed
    if (auto found = slot_of_cgroup.find(info.st_ino); found != slot_of_cgroup.end())
      cts.push_back({ctid, cgroup, found->second});
    else
      read.unregistered.push_back(ctid);
  }
  read.containers = read_usage(engine(), paths_.pin_dir, cts);
  return read;
}

void Host::set_device_rules(const std::string& ctid, const std::vector<Engine::DeviceRule>& rules) {
  engine().set_device_rules(registered_slot(ctid), rules);
}

void Host::clear_device_rules(const std::string& ctid) {
  if (auto slot = engine().find_slot(cgroup::id_of(cgroup_of(ctid)))) engine().clear_device_rules(*slot);
}

ubc_counter Host::counter(const std::string& ctid, ubc_resource resource) {
  if (resource_info(resource).held_from == HeldFrom::slot)
    return charged_counter(engine().slots()[registered_slot(ctid)], resource);
  for (const auto& row : usage(ctid).resources)
    if (row.resource->id == resource) return row.counter;
  throw std::logic_error("no row for resource " + std::to_string(resource));
}

void Host::restore_history(const std::string& ctid, ubc_resource resource, std::uint64_t maxheld,
                           std::uint64_t failcnt) {
  ubc_counter& row = engine().slots()[registered_slot(ctid)].res[resource];
  // A charge between the load of held and the store could raise maxheld and be overwritten:
  // raising to held again after the store takes back all but a peak that came and went in
  // those instructions.
  slot_store(row.maxheld, std::max<__u64>(maxheld, slot_load(row.held)));
  slot_raise(row.maxheld, slot_load(row.held));
  slot_raise(row.failcnt, failcnt);
}

int Host::exec(const std::string& ctid, const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("exec needs a command");
  if (!exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  const std::string procs = (cgroup_of(ctid) / "cgroup.procs").string();
  const std::string entering = "entering CT " + ctid + " (" + procs + ")";
  return wait_for_exit(spawn_program(
      argv, [&]() -> const char* { return cgroup::enter_from_child(procs.c_str()) ? entering.c_str() : nullptr; },
      OnParentDeath::live_on));
}

}  // namespace ubc
