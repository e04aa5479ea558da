// ubcctl's container verbs (vzctl's and vzlist's): what each prints and returns, apart from
// the option parsing in ubcctl.cpp.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ubc/containers.h"
#include "ubc/userns_ranges.h"

namespace ubc::cli {

// vzlist: CTID NPROC STATUS IP_ADDR HOSTNAME by default; `fields` picks columns (ctid,
// nproc, status, ip, hostname, or any beancounter name with .m .b .l .f for maxheld,
// barrier, limit, failcnt); `all` includes stopped CTs.
int list(Host& host, Containers& containers, const std::vector<std::string>& fields, bool all, bool json);
// vzctl status: "CTID 101 exist mounted running", then the CT's capabilities (the running
// CT's, else those its next start gives).
int status(Containers& containers, const std::string& ctid);
// Starts one CT, warning on stderr when it runs without /proc/user_beancounters inside.
void start(Containers& containers, const std::string& ctid, bool force = false);
// Throws, naming the running CTs and what they would lose, unless none runs or `force`.
void refuse_unload_with_running_cts(Containers& containers, bool force);
// Starts every CT whose config says ONBOOT="yes" and that is not running.
int start_all(Host& host, Containers& containers);
// Runs one command in every running CT, each one's output under a "CT <id>:" header.
int exec_all(Host& host, Containers& containers, const std::vector<std::string>& command);
// Saves CT settings (hostname, addresses, init, devices, ...) into its config; they apply
// at the next start.
struct CtSettingChanges {
  std::string hostname, init, onboot, userns;
  std::vector<std::string> ipadd, ipdel, devices, netdev_add, netdev_del, capabilities;
};
// The CT's config with `changes` made, every one checked, nothing written yet (nullopt
// when there are none): `set` checks all its options before it changes anything.
struct PlannedSettings {
  CtConfig config;
  std::filesystem::path file;
  ConfigLock lock;  // held until saved: no other writer changes the file in between
};
std::optional<PlannedSettings> plan_setting_changes(Host& host, const std::string& ctid,
                                                    const CtSettingChanges& changes);
bool apply_setting_changes(Host& host, const std::string& ctid, const CtSettingChanges& changes);

}  // namespace ubc::cli
