// Containers as OpenVZ had them: a directory of files plus a config file, run isolated in
// their own namespaces with their init as PID 1. The verbs of vzctl (create, start, stop,
// restart, status, exec, enter, clone, destroy) and vzlist, on top of Host's cgroups and
// beancounters.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "ubc/ct_settings.h"
#include "ubc/freeze_hold.h"
#include "ubc/host.h"

namespace ubc {

struct CreateOptions {
  std::optional<std::filesystem::path> root;          // --root DIR: use this directory as is
  std::optional<std::filesystem::path> private_area;  // --private DIR (with --ostemplate)
  std::optional<std::string> ostemplate;              // --ostemplate NAME|TARBALL: unpack it
  std::optional<std::string> hostname;
  std::vector<std::string> ip_addresses;
  std::optional<std::string> init;
  // --userns yes|no; unset: yes for a new CT (its own uid range), as the config says for an
  // existing one.
  std::optional<bool> user_namespace;
  std::optional<std::filesystem::path> cgroup;  // --cgroup PATH: adopt another runtime's cgroup
};

struct StartResult {
  // Why the CT runs without /proc/user_beancounters inside (its /proc is a plain procfs).
  std::optional<std::string> without_proc_view;
  // Why the CT's tasks may open any device node they reach (no device rules enforced).
  std::optional<std::string> without_device_rules;
};

struct CtStatus {
  std::string ctid;
  bool exists = false;
  bool mounted = false;  // its files are there
  bool running = false;
  // Running with every task frozen (chkpnt --suspend), or stopped by chkpnt with a
  // checkpoint in default_dump_dir() to restore.
  bool suspended = false;
  std::optional<pid_t> init_pid;   // in the host's pid namespace
  CapabilitySet capabilities = 0;  // the running CT's, else what its next start gives
};

struct ListEntry {
  std::string ctid;
  std::uint64_t nproc = 0;
  bool running = false;
  bool suspended = false;
  std::vector<std::string> ip_addresses;
  std::string hostname;
  CapabilitySet capabilities = 0;  // as CtStatus's
};

struct MigrationOptions {
  std::string destination;               // [user@]host, reached with ssh as root
  std::vector<std::string> ssh_options;  // passed to ssh as they are
  bool online = false;                   // checkpoint, copy, restore: the CT's processes go on
  bool keep_source = false;              // leave the CT here, stopped, instead of destroying it
  int pre_dumps = 1;                     // online: pre-dump rounds sent while the CT runs on
};

struct MigrationResult {
  bool was_running = false;
  // From the stop (or, online, the freeze) to the CT running there, and its three parts:
  // stopped (or dumped) here, the rest copied and put in place there, started (or restored)
  // there.
  std::chrono::milliseconds down{0}, stopping{0}, copying{0}, starting{0};
  // Online: the pre-dump rounds, while the CT ran on here.
  std::chrono::milliseconds pre_copy{0};
};

// The parts of a CT migrating in, as `ubcctl migrate-receive` takes them, in this order:
// the config (checked, kept aside), the files and the checkpoint (tar streams, unpacked
// next to where they go), then commit (all of it put in place and the CT created). abort
// removes whatever arrived.
enum class MigrationStep { check, checkpoint, commit, abort };

// Where chkpnt and restore keep a CT's checkpoint unless told: $UBC_STATE_DIR/dump/CTID.
std::filesystem::path default_dump_dir(const std::string& ctid);

// Where ubc unpacks the files of CTs made from a template: $UBC_STATE_DIR/private/CTID.
std::filesystem::path private_areas();
// A template is unpacked next to its area, under this suffix, and renamed into place whole.
inline constexpr const char* kPartialAreaSuffix = ".partial";
std::filesystem::path partial_area(const std::filesystem::path& area);

class Containers {
 public:
  explicit Containers(Host& host) : host_(host) {}

  // The cgroup (and beancounters) as Host::create, plus the config file and, from a
  // template, the files. Nothing is left behind when a step fails.
  void create(const std::string& ctid, const CreateOptions& options);
  // Runs the CT's init in its namespaces, with a /proc view (user_beancounters inside)
  // served by ubc-procfs when the host can serve one. Refuses without the engine loaded
  // unless `force` (the CT then runs without beancounters, device rules or bpf() denial).
  StartResult start(const std::string& ctid, bool force = false);
  // Asks init to stop (SIGTERM), kills what is left after `timeout`; no process, mount,
  // network device or nested cgroup stays behind.
  void stop(const std::string& ctid, std::chrono::seconds timeout);
  CtStatus status(const std::string& ctid);
  std::vector<ListEntry> list();
  // Runs argv in the running CT's namespaces (as its root), or only in its cgroup when it
  // is not running. Returns the exit status.
  int exec(const std::string& ctid, const std::vector<std::string>& argv);
  // An interactive login shell in the running CT, on a pty of the CT's devpts.
  int enter(const std::string& ctid);
  // Attaches the caller's terminal to the running CT's console until Esc then '.'.
  void console(const std::string& ctid);
  // Freezes every task of the running CT where it is (cgroup.freeze), and thaws them: vzctl
  // chkpnt --suspend and --resume. A suspended CT runs nothing until resumed or stopped, and
  // CRIU can seize each of its tasks (none waits in vfork()).
  void suspend(const std::string& ctid);
  void resume(const std::string& ctid);
  // vzctl chkpnt: the running CT suspended, its whole state saved by CRIU in `dump_dir` with
  // ubc's own (beancounter history and limits: ubc/checkpoint_state.h), then stopped. A
  // failed dump leaves the CT running as before (suspended if it was).
  // `pre_dumps`: the rounds of pre_dump already in `dump_dir`, which the dump adds to.
  // `after`: stay_suspended is chkpnt --dump, of a suspended CT that stays so (--kill stops
  // it, --resume lets it run on, its checkpoint then a snapshot of the past).
  enum class AfterDump { stop, stay_suspended };
  void checkpoint(const std::string& ctid, const std::filesystem::path& dump_dir, int pre_dumps = 0,
                  AfterDump after = AfterDump::stop);
  // vzctl chkpnt --kill: a suspended CT whose checkpoint `dump_dir` holds, stopped.
  void kill_checkpointed(const std::string& ctid, const std::filesystem::path& dump_dir);
  // A pre-dump of the running CT into `dump_dir` (round 1 starts afresh, round N adds to
  // N-1): its memory saved while it goes on running, so that the checkpoint after it saves
  // only what changed since, and the CT is frozen for less (migrate --online).
  void pre_dump(const std::string& ctid, const std::filesystem::path& dump_dir, int round);
  // vzctl restore: the CT running again from the checkpoint in `dump_dir`, its objects
  // charged to it anew and its maxheld and failcnt as the checkpoint kept them. A failed
  // restore leaves the checkpoint as it was and nothing of the CT running; a checkpoint
  // restores once (the CT's files went on from there).
  void restore(const std::string& ctid, const std::filesystem::path& dump_dir);
  // vzmigrate: the CT's files, config and beancounter limits to `destination`, where it
  // runs again if it ran here (online: restored from a checkpoint, so its processes go
  // on), then destroyed here. Checked there before the CT is touched; a failure on the way
  // leaves nothing of it there and the CT running here as before.
  MigrationResult migrate(const std::string& ctid, const MigrationOptions& options);
  // The destination's side of it: one step, its data (config text, tar stream) on `input`.
  // `online`: the check also asks for what a restore needs here (CRIU).
  void receive_migration(const std::string& ctid, MigrationStep step, std::istream& input, bool online = false);
  // The receiving rsync of migrate's file copies (`rsync --server ...`, started there by the
  // source's rsync over ssh) run on the migration's staging area through a view that
  // follows no symlink: the CT's files are written as they are and never through one of
  // their links. Returns its exit status.
  int receive_files(const std::string& ctid, const std::vector<std::string>& rsync_argv);
  // Copies the CT's files and config under a new id, without its addresses.
  void clone(const std::string& ctid, const std::string& new_ctid);
  // Stops it if asked, removes its cgroup and config, and the files ubc unpacked for it.
  void destroy(const std::string& ctid, bool force);

  CtSettings settings(const std::string& ctid) const;
  // Whether default_dump_dir() holds a checkpoint not restored yet.
  bool checkpointed(const std::string& ctid) const;
  // After the engine is (re)loaded: the device rules of every running CT, as at its start
  // (a new engine starts with none). Returns how many CTs got them.
  int restore_device_rules();

 private:
  // The CT's settings, once every check that it can start has passed.
  CtSettings startable(const std::string& ctid, bool force) const;
  std::optional<pid_t> running_init(const std::string& ctid) const;
  // The cgroup `pid` is in (host path) while that is the CT's or one below it.
  std::optional<std::filesystem::path> cgroup_in_ct(const std::string& ctid, pid_t pid) const;
  // Where exec and enter put their process: init's cgroup.procs. A CT that manages its own
  // cgroups (systemd) has moved init out of the CT's cgroup, which then takes no process.
  std::string procs_beside_init(const std::string& ctid, pid_t init) const;
  std::filesystem::path pid_file(const std::string& ctid) const;
  // Whether the CT's cgroup tree is frozen (chkpnt --suspend): the one test status, list,
  // stop and the refusals below use.
  bool frozen(const std::string& ctid) const;
  // After a dump or pre-dump that failed with `error`: the CT, if it runs frozen, thawed.
  // Throws `error` with the thaw's own failure added if that fails too.
  void resume_after_failed_dump(const std::string& ctid, const std::exception& error);
  // suspend(), its freeze held (ubc/freeze_hold.h) until released: a ubcctl killed before
  // then, and before CRIU's waiter has settled the freeze, leaves the CT thawed.
  FreezeHold suspend_held(const std::string& ctid);
  // What is left once the CT's init is gone or going (stop, a dump): any process still in
  // its cgroup killed, the cgroups it made, its pid file and device rules removed.
  void end_run(const std::string& ctid, std::optional<pid_t> init);
  // A process joining a suspended CT would freeze with it: exec and enter refuse instead.
  void refuse_if_suspended(const std::string& ctid, const char* verb) const;

  Host& host_;
};

}  // namespace ubc
