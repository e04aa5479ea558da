// vzmigrate: a CT's files, config and (with --online) its running state moved to another
// ubc host over SSH (docs/CHECKPOINT.md). The source drives; the destination's
// `ubcctl migrate-receive` takes each part into a place of its own and puts the CT in
// place only once all of it is there.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "ubc/containers.h"
#include "ubc/criu_commands.h"
#include "ubc/ct_config.h"
#include "ubc/ct_helpers.h"
#include "ubc/remote_host.h"
#include "ubc/run_command.h"
#include "ubc/userns_ranges.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

constexpr std::chrono::seconds kStopTimeout{10};

// The directory a CT's files are in, which moves with it.
fs::path files_of(const CtSettings& ct, const std::string& ctid) {
  if (ct.root.empty()) throw std::runtime_error("CT " + ctid + " has no files (VE_ROOT) to migrate");
  return ct.root;
}

// The receiving host's staging, one per CT: the config while the parts arrive, and the
// parts next to where they go (renamed into place whole, as a template's area is).
fs::path staged_config(const std::string& ctid) {
  return state_dir() / "incoming" / (ctid + ".conf");
}
fs::path staged_dump(const std::string& ctid) {
  return default_dump_dir(ctid).string() + kPartialAreaSuffix;
}

// One pre-dump round's directory, as itself (it lands beside the others there).
std::vector<std::string> tar_create_member(const fs::path& dir, const std::string& member) {
  return {"tar", "-c", "-f", "-", "--numeric-owner", "--sparse", "-C", dir.string(), member};
}
// The checkpoint without its pre-dumps, which were sent already.
std::vector<std::string> tar_create_final(const fs::path& dir) {
  return {"tar", "-c", "-f", "-", "--numeric-owner", "--sparse", "--exclude=./pre-*", "-C", dir.string(), "."};
}
std::vector<std::string> tar_extract(const fs::path& dir) {
  return {"tar", "-x", "-f", "-", "--numeric-owner", "--same-permissions", "-C", dir.string()};
}

// rsync's exit statuses for a partial transfer: some files not read (23), some gone before
// they were (24).
constexpr int kRsyncPartial = 23;
constexpr int kRsyncVanished = 24;

// The CT's files are copied with rsync, on both hosts.
void require_rsync(const char* where) {
  if (!on_path("rsync"))
    throw std::runtime_error(std::string("rsync is not installed ") + where +
                             ": migrate copies the CT's files with it");
}

void make_private_dir(const fs::path& dir) {
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all);
}

std::string read_all(std::istream& in) {
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// ---- the destination ----

namespace {

void refuse_if_taken(const Host& host, const std::string& ctid, const CtSettings& ct) {
  const fs::path config_file = host.config_path(ctid);
  if (host.exists(ctid) || fs::exists(config_file)) throw std::runtime_error("CT " + ctid + " exists here");
  if (ct.user_namespace && !user_range_free(config_file.parent_path(), ct.user_mapping))
    throw std::runtime_error("another CT here maps host ids " + std::to_string(ct.user_mapping.host_first) + "+" +
                             std::to_string(ct.user_mapping.count) + ", the CT's range");
}

// Whatever arrived of a migration that did not finish.
void abort_incoming(const std::string& ctid) {
  const fs::path staged = staged_config(ctid);
  if (fs::exists(staged)) {
    if (const auto settings = CtSettings::from(CtConfig::load(staged)); !settings.root.empty())
      fs::remove_all(partial_area(settings.root));
    fs::remove(staged);
  }
  fs::remove_all(staged_dump(ctid));
}

// The config, checked as if the CT were to be put in place now, and kept aside.
void check_incoming(const Host& host, const std::string& ctid, const CtConfig& config, bool online) {
  const CtSettings ct = CtSettings::from(config);
  refuse_if_taken(host, ctid, ct);
  if (!host.engine_loaded()) throw std::runtime_error("the engine is not loaded here (ubcctl load)");
  if (online) require_criu();
  require_rsync("here");
  const fs::path files = files_of(ct, ctid);
  if (fs::exists(files)) throw std::runtime_error(files.string() + " exists here");
  if (fs::exists(default_dump_dir(ctid))) throw std::runtime_error(default_dump_dir(ctid).string() + " exists here");
  abort_incoming(ctid);
  fs::create_directories(staged_config(ctid).parent_path());
  config.save(staged_config(ctid));
  // Where the source's rsync puts the files.
  make_private_dir(partial_area(files));
}

// A tar stream on stdin unpacked into `partial`, a directory only root can enter.
void unpack_into(const fs::path& partial) {
  make_private_dir(partial);
  run_or_throw(tar_extract(partial));
}

// The staged config of a migration checked in here, which the later steps need.
fs::path under_way(const std::string& ctid) {
  const fs::path staged = staged_config(ctid);
  if (!fs::exists(staged)) throw std::runtime_error("no migration of CT " + ctid + " under way here (--check first)");
  return staged;
}

void commit_incoming(Host& host, const std::string& ctid) {
  const fs::path config_file = host.config_path(ctid);
  const ConfigLock lock(config_file.parent_path());
  const fs::path staged = under_way(ctid);
  CtConfig config = CtConfig::load(staged);
  const CtSettings ct = CtSettings::from(config);
  refuse_if_taken(host, ctid, ct);
  const fs::path files = files_of(ct, ctid);
  if (!fs::is_directory(partial_area(files))) throw std::runtime_error("the CT's files never arrived");
  // The copy is ubc's: destroying the CT here removes it.
  config.set("UBC_OWNS_PRIVATE", "yes");
  config.save(config_file);
  try {
    host.create(ctid);
    fs::rename(partial_area(files), files);
    if (fs::exists(staged_dump(ctid))) fs::rename(staged_dump(ctid), default_dump_dir(ctid));
  } catch (...) {
    if (host.exists(ctid)) host.destroy(ctid, true);
    fs::remove(config_file);
    throw;
  }
  fs::remove(staged);
}

}  // namespace

int Containers::receive_files(const std::string& ctid, const std::vector<std::string>& rsync_argv) {
  validate_ctid(ctid);
  if (rsync_argv.size() < 2 || rsync_argv[0] != "rsync" || rsync_argv[1] != "--server")
    throw std::invalid_argument("migrate-receive --files runs the receiving rsync (rsync --server ...) only");
  const CtSettings ct = CtSettings::from(CtConfig::load(under_way(ctid)));
  const fs::path partial = partial_area(files_of(ct, ctid));
  if (!fs::is_directory(partial)) throw std::runtime_error(partial.string() + " is missing (--check makes it)");
  return run_command_in_tree_view(rsync_argv, partial, TreeView::writable);
}

void Containers::receive_migration(const std::string& ctid, MigrationStep step, std::istream& input, bool online) {
  validate_ctid(ctid);
  switch (step) {
    case MigrationStep::check:
      check_incoming(host_, ctid, CtConfig::parse(read_all(input), "the migrating CT's config"), online);
      return;
    case MigrationStep::checkpoint:
      under_way(ctid);
      unpack_into(staged_dump(ctid));
      return;
    case MigrationStep::commit:
      commit_incoming(host_, ctid);
      return;
    case MigrationStep::abort:
      abort_incoming(ctid);
      return;
  }
}

// ---- the source ----

namespace {

// One migration, from the source's side: what it sends, and how it undoes itself.
class OutgoingMigration {
 public:
  OutgoingMigration(Containers& containers, std::string ctid, const MigrationOptions& options)
      : containers_(containers),
        ctid_(std::move(ctid)),
        options_(options),
        remote_(options.destination, options.ssh_options),
        dump_(default_dump_dir(ctid_)) {}

  // One SSH connection for all the steps.
  void connect() { remote_.connect(); }

  // Everything the destination can refuse, before the CT is touched.
  void check(const CtConfig& config) {
    auto check = receive("--check");
    if (options_.online) check.push_back("--online");
    remote_.run_or_throw(check, config.text());
  }

  // The CT's files made a copy of there: once while the CT runs on here (the bulk), again
  // once it stopped (what changed since). rsync runs as root over a tree the running CT
  // changes under it, so it reads that tree through a view that follows no symlink: a
  // directory swapped for a link to a host path between two lookups leads nowhere, and no
  // host file goes into the CT's copy. Returns rsync's exit status.
  int copy_files(const fs::path& files) const {
    // There, rsync writes through the same kind of view (migrate-receive --files).
    const std::string remote_rsync = "ubcctl migrate-receive " + shell_quote(ctid_) + " --files -- rsync";
    return run_command_in_tree_view(remote_.rsync_argv(files.string(), partial_area(files).string(), remote_rsync),
                                    files, TreeView::read_only);
  }

  // Everything of its files while it runs. Files that vanish under rsync (24), or that it
  // could not read (23: one a symlink now stands in the way of), are the second pass's.
  void pre_copy_files(const fs::path& files) {
    const int status = copy_files(files);
    if (status != 0 && status != kRsyncPartial && status != kRsyncVanished)
      throw std::runtime_error("copying the CT's files there (rsync) failed with status " + std::to_string(status) +
                               abort_there());
  }

  // Online: the pre-dump rounds, each sent while the CT runs on here.
  void pre_copy() {
    try {
      for (int round = 1; round <= options_.pre_dumps; ++round) {
        containers_.pre_dump(ctid_, dump_, round);
        remote_.run_fed_by(tar_create_member(dump_, pre_dump_name(round)), receive("--checkpoint"));
      }
    } catch (const std::exception& error) {
      throw std::runtime_error(std::string(error.what()) + abort_there());
    }
  }

  // The CT stopped here: checkpointed on top of the pre-dumps (online), or stopped.
  void stop_here(bool was_running) {
    try {
      if (options_.online)
        containers_.checkpoint(ctid_, dump_, options_.pre_dumps);
      else if (was_running)
        containers_.stop(ctid_, kStopTimeout);
    } catch (const std::exception& error) {
      throw std::runtime_error(std::string(error.what()) + abort_there());  // a failed dump left it running
    }
  }

  // What changed of its files, the rest of its checkpoint and its config put in place there.
  void transfer(const fs::path& files, bool was_running) {
    try {
      if (const int status = copy_files(files); status != 0)
        throw std::runtime_error("copying the CT's files there (rsync) failed with status " + std::to_string(status));
      if (options_.online) remote_.run_fed_by(tar_create_final(dump_), receive("--checkpoint"));
      remote_.run_or_throw(receive("--commit"));
    } catch (const std::exception& error) {
      throw std::runtime_error(std::string(error.what()) + abort_there() + run_here_again(was_running));
    }
  }

  void run_there(bool was_running) {
    try {
      if (options_.online)
        remote_.run_or_throw({"ubcctl", "restore", ctid_});
      else if (was_running)
        remote_.run_or_throw({"ubcctl", "start", ctid_});
    } catch (const std::exception& error) {
      // The CT there never ran: it goes, and runs here again.
      std::string said = error.what();
      const RemoteRun destroyed = remote_.run({"ubcctl", "destroy", ctid_, "--force"});
      if (destroyed.status != 0) said += "; destroying it on " + remote_.name() + " failed too: " + destroyed.output;
      throw std::runtime_error(said + run_here_again(was_running));
    }
  }

  const fs::path& dump() const { return dump_; }

 private:
  std::vector<std::string> receive(const char* step) const { return {"ubcctl", "migrate-receive", ctid_, step}; }

  // Nothing of the CT stays there; what to add to the error if that failed.
  std::string abort_there() const {
    const RemoteRun aborted = remote_.run(receive("--abort"));
    // Pre-dumps without a checkpoint on top are of no use here; a checkpoint is how the CT
    // runs here again.
    std::error_code ignored;
    if (options_.online && !containers_.checkpointed(ctid_)) fs::remove_all(dump_, ignored);
    return aborted.status == 0 ? "" : "; cleaning up on " + remote_.name() + " failed too: " + aborted.output;
  }

  // The CT running here again as it did (from its checkpoint, online); what to add to the
  // error if that failed.
  std::string run_here_again(bool was_running) {
    try {
      if (options_.online)
        containers_.restore(ctid_, dump_);
      else if (was_running)
        containers_.start(ctid_);
      return "";
    } catch (const std::exception& again) {
      return "; running CT " + ctid_ + " here again failed too: " + again.what();
    }
  }

  Containers& containers_;
  std::string ctid_;
  const MigrationOptions& options_;
  RemoteHost remote_;
  fs::path dump_;
};

}  // namespace

MigrationResult Containers::migrate(const std::string& ctid, const MigrationOptions& options) {
  if (!host_.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime migrates it");
  const fs::path files = files_of(settings(ctid), ctid);
  const bool was_running = running_init(ctid).has_value();
  if (options.online && !was_running)
    throw std::runtime_error("CT " + ctid + " is not running: migrate it without --online");
  if (checkpointed(ctid))
    throw std::runtime_error("CT " + ctid + " has a checkpoint not restored (" + default_dump_dir(ctid).string() +
                             "): restore it first");
  if (options.pre_dumps < 0) throw std::invalid_argument("--pre-dumps takes 0 or more");
  require_rsync("here");
  OutgoingMigration migration(*this, ctid, options);
  migration.connect();
  migration.check(CtConfig::load(host_.config_path(ctid)));

  MigrationResult result;
  result.was_running = was_running;
  using Clock = std::chrono::steady_clock;
  const auto since = [](Clock::time_point then) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - then);
  };
  const auto began = Clock::now();
  migration.pre_copy_files(files);
  if (options.online) migration.pre_copy();
  result.pre_copy = since(began);
  const auto stopped_at = Clock::now();
  migration.stop_here(was_running);
  result.stopping = since(stopped_at);
  migration.transfer(files, was_running);
  result.copying = since(stopped_at) - result.stopping;
  migration.run_there(was_running);
  result.down = since(stopped_at);
  result.starting = result.down - result.stopping - result.copying;
  // The CT lives there now: here it goes, or stays stopped without its checkpoint (which
  // would run a second copy of it).
  if (options.keep_source)
    fs::remove_all(migration.dump());
  else
    destroy(ctid, true);
  return result;
}

}  // namespace ubc
