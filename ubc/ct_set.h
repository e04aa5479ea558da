// `set`: what vzctl set does to a CT, checked whole before anything changes. Beancounter
// limits, CPU and I/O values take effect at once on the live CT (saved with --save). The hostname,
// addresses, resolver and passwords act on a running CT at once too, and are saved with
// --save or when the CT is stopped; the other settings (init, devices, ...) are always saved
// and apply at its next start.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ubc/ct_config.h"
#include "ubc/host.h"

namespace ubc {

// Settings of a CT, each as vzctl's option gave it.
struct CtSettingChanges {
  // What a running CT takes at once.
  std::string hostname;
  std::vector<std::string> ipadd, ipdel, nameservers, search_domains;
  std::vector<std::string> user_passwords;  // USER:PASSWORD, never saved
  // What applies at the next start.
  std::string init, onboot, userns;
  std::vector<std::string> devices, netdev_add, netdev_del, capabilities;

  bool empty() const;
  bool has_live() const;
  // These changes without the ones a running CT takes at once.
  CtSettingChanges next_start_only() const;
};

// The CT's config with `changes` made, every one checked, nothing written yet (nullopt
// when none of them is saved).
struct PlannedSettings {
  CtConfig config;
  std::filesystem::path file;
  ConfigLock lock;  // held until saved: no other writer changes the file in between
};
std::optional<PlannedSettings> plan_setting_changes(Host& host, const std::string& ctid,
                                                    const CtSettingChanges& changes);
// Plans and saves `changes`; false when there were none.
bool apply_setting_changes(Host& host, const std::string& ctid, const CtSettingChanges& changes);

// One `set` command, as typed.
struct SetRequest {
  std::string ctid;                                // "0": the host's own tasks (OpenVZ's VE0)
  std::map<std::string, std::string> limit_texts;  // resource name -> "BARRIER[:LIMIT]"
  std::string cpuunits, cpulimit, cpus;            // empty: unchanged
  std::string ioprio, iolimit, iopslimit;          // empty: unchanged
  std::string diskspace, diskinodes, quotatime;    // empty: unchanged
  std::string quotaugidlimit;                      // empty: unchanged
  CtSettingChanges settings;
  bool save = false;  // also write limits and CPU values into the CT's config
};

// Applies `request`. Throws std::invalid_argument for a bad or empty request and
// std::runtime_error for a CT that does not exist or limits with no engine to take them
// (unless only saved); either way nothing has changed. The config is written once, after
// the live CT took the values: a kill in between leaves an unsaved set, never a file that
// holds half of it. Returns warnings: what was set but holds nothing (an iolimit on a CT
// with no block device).
std::vector<std::string> apply_set(Host& host, const SetRequest& request);

}  // namespace ubc
