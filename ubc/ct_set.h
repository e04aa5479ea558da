// `set`: what vzctl set does to a CT, checked whole before anything changes. Beancounter
// limits and CPU values take effect at once on the live CT; settings (hostname, addresses,
// init, devices, ...) are written to its config and apply at its next start.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ubc/ct_config.h"
#include "ubc/host.h"

namespace ubc {

// Settings saved into a CT's config, each as vzctl's option gave it.
struct CtSettingChanges {
  std::string hostname, init, onboot, userns;
  std::vector<std::string> ipadd, ipdel, devices, netdev_add, netdev_del, capabilities;
  bool empty() const;
};

// The CT's config with `changes` made, every one checked, nothing written yet (nullopt
// when there are none).
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
  CtSettingChanges settings;
  bool save = false;  // also write limits and CPU values into the CT's config
};

// Applies `request`. Throws std::invalid_argument for a bad or empty request and
// std::runtime_error for a CT that does not exist or limits with no engine to take them
// (unless only saved); either way nothing has changed. The config is written once, after
// the live CT took the values: a kill in between leaves an unsaved set, never a file that
// holds half of it.
void apply_set(Host& host, const SetRequest& request);

}  // namespace ubc
