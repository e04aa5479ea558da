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

// tar's way of copying a tree to another host whole: ids as numbers (the CT's range is the
// same there), modes, ACLs and extended attributes (file capabilities), sparse files.
std::vector<std::string> tar_create(const fs::path& dir) {
  return {"tar",      "-c", "-f",         "-", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls",
          "--sparse", "-C", dir.string(), "."};
}
std::vector<std::string> tar_extract(const fs::path& dir) {
  return {"tar",    "-x", "-f",        "-", "--numeric-owner", "--same-permissions", "--xattrs", "--xattrs-include=*",
          "--acls", "-C", dir.string()};
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
  if (const fs::path files = files_of(ct, ctid); fs::exists(files))
    throw std::runtime_error(files.string() + " exists here");
  if (fs::exists(default_dump_dir(ctid))) throw std::runtime_error(default_dump_dir(ctid).string() + " exists here");
  abort_incoming(ctid);
  fs::create_directories(staged_config(ctid).parent_path());
  config.save(staged_config(ctid));
}

// A tar stream on stdin unpacked into `partial`, a directory only root can enter.
void unpack_into(const fs::path& partial) {
  fs::create_directories(partial);
  fs::permissions(partial, fs::perms::owner_all);
  run_or_throw(tar_extract(partial));
}

void commit_incoming(Host& host, const std::string& ctid) {
  const fs::path config_file = host.config_path(ctid);
  const ConfigLock lock(config_file.parent_path());
  const fs::path staged = staged_config(ctid);
  if (!fs::exists(staged)) throw std::runtime_error("no migration of CT " + ctid + " under way here");
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

void Containers::receive_migration(const std::string& ctid, MigrationStep step, std::istream& input, bool online) {
  validate_ctid(ctid);
  switch (step) {
    case MigrationStep::check:
      check_incoming(host_, ctid, CtConfig::parse(read_all(input), "the migrating CT's config"), online);
      return;
    case MigrationStep::files: {
      const fs::path staged = staged_config(ctid);
      if (!fs::exists(staged)) throw std::runtime_error("no migration of CT " + ctid + " under way here");
      unpack_into(partial_area(files_of(CtSettings::from(CtConfig::load(staged)), ctid)));
      return;
    }
    case MigrationStep::checkpoint:
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

MigrationResult Containers::migrate(const std::string& ctid, const MigrationOptions& options) {
  if (!host_.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  if (host_.adopted_cgroup(ctid))
    throw std::runtime_error("CT " + ctid + " is another runtime's cgroup (UBC_CGROUP): that runtime migrates it");
  const RemoteHost remote(options.destination, options.ssh_options);
  const CtSettings ct = settings(ctid);
  const fs::path files = files_of(ct, ctid);
  const fs::path config_file = host_.config_path(ctid);
  const auto init = running_init(ctid);
  if (options.online && !init) throw std::runtime_error("CT " + ctid + " is not running: migrate it without --online");
  if (checkpointed(ctid))
    throw std::runtime_error("CT " + ctid + " has a checkpoint not restored (" + default_dump_dir(ctid).string() +
                             "): restore it first");
  auto receive = [&](const char* step) { return std::vector<std::string>{"ubcctl", "migrate-receive", ctid, step}; };
  // Everything the destination can refuse, before the CT is touched.
  auto check = receive("--check");
  if (options.online) check.push_back("--online");
  remote.run_or_throw(check, CtConfig::load(config_file).text());

  MigrationResult result;
  result.was_running = init.has_value();
  const auto stopped_at = std::chrono::steady_clock::now();
  const fs::path dump = default_dump_dir(ctid);
  if (options.online)
    checkpoint(ctid, dump);
  else if (init)
    stop(ctid, kStopTimeout);
  try {
    remote.run_fed_by(tar_create(files), receive("--files"));
    if (options.online) remote.run_fed_by(tar_create(dump), receive("--checkpoint"));
    remote.run_or_throw(receive("--commit"));
  } catch (const std::exception& error) {
    // Nothing of the CT stays there; here it runs again as it did.
    const RemoteRun aborted = remote.run(receive("--abort"));
    std::string said = error.what();
    if (aborted.status != 0) said += "; cleaning up on " + remote.name() + " failed too: " + aborted.output;
    try {
      if (options.online)
        restore(ctid, dump);
      else if (init)
        start(ctid);
    } catch (const std::exception& again) {
      said += "; running CT " + ctid + " here again failed too: " + again.what();
    }
    throw std::runtime_error(said);
  }
  try {
    if (options.online)
      remote.run_or_throw({"ubcctl", "restore", ctid});
    else if (init)
      remote.run_or_throw({"ubcctl", "start", ctid});
  } catch (const std::exception& error) {
    // The CT there never ran: it goes, and runs here again.
    std::string said = error.what();
    const RemoteRun destroyed = remote.run({"ubcctl", "destroy", ctid, "--force"});
    if (destroyed.status != 0) said += "; destroying it on " + remote.name() + " failed too: " + destroyed.output;
    try {
      if (options.online)
        restore(ctid, dump);
      else
        start(ctid);
    } catch (const std::exception& again) {
      said += "; running CT " + ctid + " here again failed too: " + again.what();
    }
    throw std::runtime_error(said);
  }
  result.down = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stopped_at);
  // The CT lives there now: here it goes, or stays stopped without its checkpoint (which
  // would run a second copy of it).
  if (options.keep_source)
    fs::remove_all(dump);
  else
    destroy(ctid, true);
  return result;
}

}  // namespace ubc
