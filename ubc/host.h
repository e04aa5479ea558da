// The host's containers and their beancounters: the domain API that ubcctl, ubcd and the
// tests use. A CT is a cgroup v2 directory the engine knows by its cgroup id: one ubc made
// under its cgroup root (`create`), or another runtime's that it adopted (`create --cgroup`,
// UBC_CGROUP in the CT's config). Cgroups nested inside it are charged to it.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loader/engine.h"
#include "ubc/limits.h"
#include "ubc/report.h"

namespace ubc {

struct HostPaths {
  std::filesystem::path cgroup_root;  // CTs are its children, e.g. /sys/fs/cgroup/ubc/101
  std::filesystem::path pin_dir;      // where the engine is pinned in bpffs

  // The defaults (<cgroup2 mount>/ubc, /sys/fs/bpf/ubc); UBC_CGROUP_ROOT and UBC_PIN_DIR
  // override them. Throws when the host has no cgroup v2 hierarchy.
  static HostPaths discover();
};

// The config key that makes a CT an adopted cgroup.
inline constexpr const char* kAdoptedCgroupKey = "UBC_CGROUP";

// Throws std::invalid_argument unless `ctid` is 1-64 of [A-Za-z0-9_.-], starting alphanumeric.
void validate_ctid(const std::string& ctid);
// A running CT's init, in the host's numbering: run_dir()/CTID.pid.
std::filesystem::path ct_pid_file(const std::string& ctid);

// One thread at a time uses a Host (ubcd gives each of its threads its own).
class Host {
 public:
  explicit Host(HostPaths paths);

  const HostPaths& paths() const noexcept { return paths_; }

  // Loads the engine and registers every CT cgroup that already exists, with the limits
  // of its config file (unlimited where it sets none) and held 0: what was allocated
  // before the load is not charged. First makes the cgroup2 mount a delegation boundary
  // (nsdelegate), or refuses: returns whether it had to remount it.
  struct LoadReport {
    bool remounted_nsdelegate = false;
  };
  LoadReport load_engine(const EngineSizing& sizing = {});
  // Unloads the CPU scheduler (ubc/cpu_control.h) too if it is loaded: it shares the
  // engine's CT registry.
  void unload_engine();
  bool engine_loaded() const;
  // A long-lived Host (ubcd) drops maps of an engine that was unloaded and loaded again
  // since it opened them; the next use opens the new one. Returns whether it did.
  bool reopen_if_replaced();

  // The CT's slot in the engine's maps (and the scheduler's), if it is registered.
  std::optional<std::uint32_t> slot_index(const std::string& ctid);

  // Brings the registry back in line with the CTs' cgroups after a command was killed
  // half-way or another runtime recreated a cgroup: unbinds slots whose cgroup is no CT's
  // any more, frees slots no binding reaches, registers CT cgroups the engine does not
  // know (with their config's limits). Returns one line per repair.
  std::vector<std::string> reconcile();

  void create(const std::string& ctid);
  // Puts beancounters on a cgroup another runtime made (a Docker, Podman or systemd unit's),
  // without moving it: recorded as UBC_CGROUP in the CT's config. Destroying such a CT
  // only forgets it.
  void adopt(const std::string& ctid, const std::filesystem::path& cgroup);
  // The cgroup of an adopted CT, if `ctid` is one.
  std::optional<std::filesystem::path> adopted_cgroup(const std::string& ctid) const;
  // Refuses a CT with running processes unless `kill` is set.
  void destroy(const std::string& ctid, bool kill);
  bool exists(const std::string& ctid) const;
  std::vector<std::string> list() const;
  std::filesystem::path cgroup_of(const std::string& ctid) const;
  // The cgroup a CT's host helpers run in (its /proc view's server, its console keeper):
  // outside the CT's cgroup, so that the CT's beancounters and denials never apply to them
  // and the CT cannot reach it, beside the CTs' root (<cgroup root>-helpers/<ctid>). The
  // CPU scheduler runs its tasks in the CT's group: what the CT makes them do is its own
  // CPU time. Made (and told to the engine, if loaded) by prepare_helper_cgroup.
  std::filesystem::path helper_cgroup_of(const std::string& ctid) const;
  std::filesystem::path prepare_helper_cgroup(const std::string& ctid);
  // The CT whose cgroup has this id, if any (for events, which carry cgroup ids).
  std::optional<std::string> ctid_of_cgroup(std::uint64_t cgroup_id) const;

  // Takes effect on the CT's next allocation; lowering below held only refuses new ones.
  void set_limits(const std::string& ctid, ubc_resource resource, const Limits& limits);
  // The CT's config file (vzctl format), in config_dir().
  std::filesystem::path config_path(const std::string& ctid) const;
  // Every row of the CT, live.
  ContainerUsage usage(const std::string& ctid);
  // Every row of every CT, in one pass over the host (ubc/usage_reader.h). CTs the engine
  // does not know (a load or registration stopped half-way: `ubcctl doctor`) are listed
  // apart; CTs destroyed meanwhile are left out.
  struct HostUsage {
    std::vector<ContainerUsage> containers;
    std::vector<std::string> unregistered;
  };
  HostUsage usage_of_all();
  // One row of the CT, live.
  ubc_counter counter(const std::string& ctid, ubc_resource resource);
  // After a restore from a checkpoint: the row's history as the checkpoint kept it. maxheld
  // becomes the larger of `maxheld` and what the CT holds now (what the restore held on its
  // way, with the limits lifted, was CRIU's, not the CT's); failcnt never goes down.
  void restore_history(const std::string& ctid, ubc_resource resource, std::uint64_t maxheld, std::uint64_t failcnt);
  // The device nodes the CT's tasks may open (Engine::set_device_rules), or no device
  // rules of ubc's at all.
  void set_device_rules(const std::string& ctid, const std::vector<Engine::DeviceRule>& rules);
  void clear_device_rules(const std::string& ctid);

  // Runs argv inside the CT, waits, and returns its exit status (128+N if killed by N).
  int exec(const std::string& ctid, const std::vector<std::string>& argv);

 private:
  Engine& engine();
  // The CT's slot index; throws unless the CT exists and is registered.
  std::uint32_t registered_slot(const std::string& ctid);
  void register_cgroup(const std::string& ctid);
  // Unbinds the CT's slot from the engine (if loaded), so nothing is charged to it any more.
  void forget(std::uint64_t cgroup_id);

  // Whether a CT is adopted, as its config said when it last changed: every command asks
  // (cgroup_of), and a config is read again only once it was rewritten.
  struct Adoption {
    ino_t inode = 0;
    off_t size = -1;
    timespec modified{};
    std::optional<std::filesystem::path> cgroup;
  };
  mutable std::map<std::string, Adoption> adoptions_;

  HostPaths paths_;
  std::optional<Engine> engine_;
};

}  // namespace ubc
