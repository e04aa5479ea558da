#include "tools/ct_commands.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "sched/io_cgroup.h"
#include "ubc/ct_devices.h"
#include "ubc/disk_quota.h"
#include "ubc/io_settings.h"
#include "ubc/resource_table.h"
#include "ubc/ugid_quota.h"
#include "ubc/userns_ranges.h"

namespace ubc::cli {

namespace {

std::string joined(const std::vector<std::string>& words, const char* empty = "-", const char* separator = " ") {
  if (words.empty()) return empty;
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : separator) + word;
  return text;
}

// What a row's I/O and disk columns read, once per CT however many of them are asked for:
// its config, its cgroup's io files, its quota (a config and a quotactl per CT, not per column).
class RowReads {
 public:
  RowReads(Host& host, const ListEntry& entry) : host_(host), entry_(entry) {}

  // The I/O policy in force: what the CT's cgroup holds while it runs (a value set without
  // --save included), else the saved one.
  const sched::IoSettings& io() {
    if (!io_) {
      if (!entry_.running) {
        const sched::IoSettings saved = io_settings_from(config());
        io_ = sched::IoSettings{saved.ioprio.value_or(sched::kDefaultIoPrio), saved.iolimit.value_or(0),
                                saved.iopslimit.value_or(0)};
      } else {
        io_ = sched::read_io_settings(host_.cgroup_of(entry_.ctid), ct_block_devices(CtSettings::from(config())));
      }
    }
    return *io_;
  }
  // The CT's quota use and limits as its filesystem counts them; none without a quota.
  const std::optional<quota::ProjectUsage>& disk() {
    if (!disk_) {
      const auto project = disk_quota_project(config());
      disk_.emplace(project ? std::optional(disk_quota_usage(CtSettings::from(config()), *project)) : std::nullopt);
    }
    return *disk_;
  }

  // QUOTAUGIDLIMIT in force: the running CT's (set without --save included), else the saved one.
  std::uint64_t ugid_limit() {
    return entry_.running ? running_ugid_limit(entry_.ctid) : quotaugidlimit_from(config());
  }

 private:
  const CtConfig& config() {
    if (!config_) config_ = CtConfig::load(host_.config_path(entry_.ctid));
    return *config_;
  }
  Host& host_;
  const ListEntry& entry_;
  std::optional<CtConfig> config_;
  std::optional<sched::IoSettings> io_;
  std::optional<std::optional<quota::ProjectUsage>> disk_;
};

// vzlist's diskspace[.s|.h] (1 KiB blocks) and diskinodes[.s|.h]; "-" for a CT without a quota.
std::string disk_field(RowReads& reads, const std::string& field) {
  const auto& usage = reads.disk();
  if (!usage) return "-";
  const bool blocks = field.starts_with("diskspace");
  const std::string suffix = field.substr(blocks ? 9 : 10);
  const std::uint64_t value = suffix.empty()   ? (blocks ? usage->bytes / 1024 : usage->inodes)
                              : suffix == ".s" ? (blocks ? usage->limits.block_soft : usage->limits.inode_soft)
                              : suffix == ".h"
                                  ? (blocks ? usage->limits.block_hard : usage->limits.inode_hard)
                                  : throw std::invalid_argument("unknown field '" + field + "'; use .s or .h");
  return std::to_string(value);
}

std::string optional_number(const std::optional<std::uint64_t>& value) {
  return value ? std::to_string(*value) : "-";
}

// vzlist's STATUS.
const char* status_word(const ListEntry& entry) {
  if (entry.suspended) return "suspended";
  return entry.running ? "running" : "stopped";
}

// One vzlist field of a CT, as text.
std::string field_value(Host& host, RowReads& reads, const ListEntry& entry, const std::string& field) {
  if (field == "ctid") return entry.ctid;
  if (field == "nproc") return std::to_string(entry.nproc);
  if (field == "status") return status_word(entry);
  if (field == "ip") return entry.ip_addresses.empty() ? "-" : entry.ip_addresses.front();
  if (field == "hostname") return entry.hostname.empty() ? "-" : entry.hostname;
  if (field == "capability") return joined(capability_names(entry.capabilities), "-", ",");
  if (field == "ioprio") return optional_number(reads.io().ioprio);
  if (field == "iolimit") return optional_number(reads.io().iolimit);
  if (field == "iopslimit") return optional_number(reads.io().iopslimit);
  if (field.starts_with("diskspace") || field.starts_with("diskinodes")) return disk_field(reads, field);
  if (field == "quotaugidlimit") return std::to_string(reads.ugid_limit());
  const auto dot = field.find('.');
  const ResourceInfo* resource = find_resource(field.substr(0, dot));
  if (!resource)
    throw std::invalid_argument("unknown field '" + field +
                                "'; use ctid, nproc, status, ip, hostname, capability, ioprio, iolimit, iopslimit, "
                                "diskspace[.s|.h], diskinodes[.s|.h], quotaugidlimit or a "
                                "beancounter name with "
                                ".m .b .l .f");
  const ubc_counter counter = host.counter(entry.ctid, resource->id);
  const std::string suffix = dot == std::string::npos ? "" : field.substr(dot);
  const std::uint64_t value = suffix.empty()   ? counter.held
                              : suffix == ".m" ? counter.maxheld
                              : suffix == ".b" ? counter.barrier
                              : suffix == ".l" ? counter.limit
                              : suffix == ".f" ? counter.failcnt
                                               : throw std::invalid_argument("unknown suffix in '" + field + "'");
  return std::to_string(value);
}

std::string header_of(const std::string& field) {
  if (field == "ctid") return "CTID";
  if (field == "ip") return "IP_ADDR";
  std::string upper = field;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  return upper;
}

}  // namespace

int list(Host& host, Containers& containers, const std::vector<std::string>& fields_asked, bool all, bool json) {
  const std::vector<std::string> fields =
      fields_asked.empty() ? std::vector<std::string>{"ctid", "nproc", "status", "ip", "hostname"} : fields_asked;
  std::vector<ListEntry> entries;
  for (auto& entry : containers.list())
    if (all || entry.running) entries.push_back(std::move(entry));
  if (json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& entry : entries) {
      nlohmann::json row;
      RowReads reads(host, entry);
      for (const auto& field : fields) {
        if (field == "ip")
          row["ip"] = entry.ip_addresses;
        else if (field == "status")
          row["status"] = status_word(entry);
        else if (field == "capability")
          row["capability"] = capability_names(entry.capabilities);
        else if (field == "ctid" || field == "hostname")
          row[field] = field_value(host, reads, entry, field);
        else if (const std::string value = field_value(host, reads, entry, field); value == "-")
          row[field] = nullptr;
        else
          row[field] = std::stoull(value);
      }
      rows.push_back(std::move(row));
    }
    std::cout << rows.dump(2) << "\n";
    return 0;
  }
  for (const auto& field : fields) std::printf("%*s ", field == "ctid" ? 10 : 12, header_of(field).c_str());
  std::printf("\n");
  for (const auto& entry : entries) {
    RowReads reads(host, entry);
    for (const auto& field : fields)
      std::printf("%*s ", field == "ctid" ? 10 : 12, field_value(host, reads, entry, field).c_str());
    std::printf("\n");
  }
  return 0;
}

int status(Containers& containers, const std::string& ctid) {
  const CtStatus status = containers.status(ctid);
  std::printf("CTID %s %s %s %s\n", ctid.c_str(), status.exists ? "exist" : "deleted",
              status.mounted ? "mounted" : "unmounted",
              status.running ? (status.suspended ? "running suspended" : "running")
                             : (status.suspended ? "down suspended" : "down"));
  if (status.exists) std::printf("CAPABILITY %s\n", joined(capability_names(status.capabilities), "-", ",").c_str());
  return 0;
}

namespace {

std::string grace_left(std::int64_t end) {
  if (end == 0) return "none";
  const std::int64_t left = end - static_cast<std::int64_t>(std::time(nullptr));
  return left <= 0 ? "expired" : std::to_string(left) + "s";
}

}  // namespace

int quota(Host& host, Containers& containers, const std::string& ctid) {
  if (!host.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  const auto project = disk_quota_project(CtConfig::load(host.config_path(ctid)));
  if (!project) throw std::runtime_error("CT " + ctid + " has no disk quota (set --diskspace or --diskinodes)");
  const auto usage = disk_quota_usage(containers.settings(ctid), *project);
  std::printf("%11s %14s %14s %14s %10s\n", "resource", "usage", "softlimit", "hardlimit", "grace");
  std::printf("%11s %14llu %14llu %14llu %10s\n", "1k-blocks", static_cast<unsigned long long>(usage.bytes / 1024),
              static_cast<unsigned long long>(usage.limits.block_soft),
              static_cast<unsigned long long>(usage.limits.block_hard), grace_left(usage.block_grace_end).c_str());
  std::printf("%11s %14llu %14llu %14llu %10s\n", "inodes", static_cast<unsigned long long>(usage.inodes),
              static_cast<unsigned long long>(usage.limits.inode_soft),
              static_cast<unsigned long long>(usage.limits.inode_hard), grace_left(usage.inode_grace_end).c_str());
  return 0;
}

void refuse_unload_with_running_cts(Containers& containers, bool force) {
  std::vector<std::string> running;
  for (const auto& entry : containers.list())
    if (entry.running) running.push_back(entry.ctid);
  if (running.empty()) return;
  const std::string what =
      "they would lose their beancounters (held, maxheld and failcnt), their device rules and "
      "the bpf() denial until the next load";
  if (!force)
    throw std::runtime_error("CT(s) " + joined(running, "", ", ") + " running: " + what +
                             "; stop them first or unload --force");
  std::fprintf(stderr, "ubcctl: warning: unloading under running CT(s) %s: %s\n", joined(running, "", ", ").c_str(),
               what.c_str());
}

void start(Containers& containers, const std::string& ctid, bool force) {
  const StartResult result = containers.start(ctid, force);
  if (result.without_proc_view)
    std::fprintf(stderr, "ubcctl: warning: CT %s has no /proc/user_beancounters inside: %s\n", ctid.c_str(),
                 result.without_proc_view->c_str());
  if (result.without_device_rules)
    std::fprintf(stderr, "ubcctl: warning: CT %s may open any device node it reaches: %s\n", ctid.c_str(),
                 result.without_device_rules->c_str());
}

int start_all(Host& host, Containers& containers) {
  int failures = 0;
  for (const auto& ctid : host.list()) {
    try {
      if (!containers.settings(ctid).onboot || containers.status(ctid).running) continue;
      start(containers, ctid);
      std::printf("CT %s started\n", ctid.c_str());
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubcctl: CT %s: %s\n", ctid.c_str(), error.what());
      ++failures;
    }
  }
  return failures ? 1 : 0;
}

int exec_all(Host& host, Containers& containers, const std::vector<std::string>& command) {
  int worst = 0;
  for (const auto& ctid : host.list()) {
    if (!containers.status(ctid).running) continue;
    std::printf("CT %s:\n", ctid.c_str());
    std::fflush(stdout);
    worst = std::max(worst, containers.exec(ctid, command));
  }
  return worst;
}

}  // namespace ubc::cli
