#include "ubc/ct_set.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "loader/cgroup.h"
#include "loader/namespaces.h"
#include "sched/io_cgroup.h"
#include "ubc/containers.h"
#include "ubc/cpu_control.h"
#include "ubc/cpu_settings.h"
#include "ubc/ct_devices.h"
#include "ubc/ct_files.h"
#include "ubc/ct_network.h"
#include "ubc/ct_settings.h"
#include "ubc/disk_quota.h"
#include "ubc/io_settings.h"
#include "ubc/limits.h"
#include "ubc/resource_table.h"
#include "ubc/ugid_quota.h"
#include "ubc/userns_ranges.h"

namespace ubc {

namespace fs = std::filesystem;

namespace {

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

std::map<ubc_resource, Limits> parse_limit_texts(const std::map<std::string, std::string>& texts) {
  const auto page_size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::map<ubc_resource, Limits> parsed;
  for (const auto& [name, text] : texts) {
    const ResourceInfo* info = find_resource(name);
    if (!info) throw std::invalid_argument("unknown beancounter '" + name + "'");
    parsed[info->id] = parse_limits(*info, text, page_size);
  }
  return parsed;
}

sched::CpuSettings parse_cpu_texts(const SetRequest& request) {
  const auto host_cpus = static_cast<unsigned>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  sched::CpuSettings cpu;
  if (!request.cpuunits.empty()) cpu.cpuunits = sched::parse_cpuunits(request.cpuunits);
  if (!request.cpulimit.empty()) cpu.cpulimit = sched::parse_cpulimit(request.cpulimit, host_cpus);
  if (!request.cpus.empty()) cpu.cpus = sched::parse_cpus(request.cpus, host_cpus);
  return cpu;
}

sched::IoSettings parse_io_texts(const SetRequest& request) {
  sched::IoSettings io;
  if (!request.ioprio.empty()) io.ioprio = sched::parse_ioprio(request.ioprio);
  if (!request.iolimit.empty()) io.iolimit = sched::parse_iolimit(request.iolimit);
  if (!request.iopslimit.empty()) io.iopslimit = sched::parse_iopslimit(request.iopslimit);
  return io;
}

DiskQuotaSettings parse_disk_texts(const SetRequest& request) {
  DiskQuotaSettings disk;
  if (!request.diskspace.empty()) disk.diskspace = parse_diskspace(request.diskspace);
  if (!request.diskinodes.empty()) disk.diskinodes = parse_diskinodes(request.diskinodes);
  if (!request.quotatime.empty()) disk.quotatime = parse_quotatime(request.quotatime);
  return disk;
}

// OpenVZ's VE0: the host's own tasks are a group of the CPU scheduler, and nothing else.
void apply_host_set(Host& host, const SetRequest& request, const sched::CpuSettings& cpu, const sched::IoSettings& io) {
  if (!cpu.cpuunits || cpu.cpulimit || cpu.cpus || !io.empty() || !request.diskspace.empty() ||
      !request.diskinodes.empty() || !request.quotatime.empty() || !request.quotaugidlimit.empty() ||
      !request.limit_texts.empty() || !request.settings.empty())
    throw std::invalid_argument("set 0 (the host) takes --cpuunits only");
  CpuControl(host).set_host_cpuunits(*cpu.cpuunits, request.save);
}

struct UserPassword {
  std::string user, password;
};

std::vector<UserPassword> parse_user_passwords(const std::vector<std::string>& specs) {
  std::vector<UserPassword> parsed;
  for (const auto& spec : specs) {
    const auto colon = spec.find(':');
    if (colon == 0 || colon == std::string::npos || spec.find('\n') != std::string::npos)
      throw std::invalid_argument("--userpasswd takes USER:PASSWORD, not '" + spec + "'");
    parsed.push_back({spec.substr(0, colon), spec.substr(colon + 1)});
  }
  return parsed;
}

// The settings a running CT takes at once, applied to it: what its next start would do.
void apply_live_settings(Host& host, const std::string& ctid, pid_t init, const CtSettings& current,
                         const CtSettingChanges& changes) {
  const fs::path root = "/proc/" + std::to_string(init) + "/root";
  const unsigned root_id = ns::root_host_id(init);
  if (!changes.hostname.empty()) {
    ns::set_hostname_of(init, changes.hostname);
    edit_ct_files(root, root_id, [&] { write_hostname_file(changes.hostname); });
  }
  if (!changes.ipadd.empty() || !changes.ipdel.empty()) {
    // By name: an address added live without --save is in no config, and `all` means the saved ones.
    std::vector<std::string> removed;
    for (const auto& address : changes.ipdel) {
      if (address == "all")
        removed.insert(removed.end(), current.ip_addresses.begin(), current.ip_addresses.end());
      else
        removed.push_back(address);
    }
    const std::uint64_t cgroup_id = cgroup::id_of(host.cgroup_of(ctid));
    remove_ct_addresses(init, cgroup_id, removed);
    add_ct_addresses(init, cgroup_id, changes.ipadd);
  }
  if (!changes.nameservers.empty() || !changes.search_domains.empty()) {
    const ResolverSettings resolver = resolver_settings(changes.nameservers, changes.search_domains);
    edit_ct_files(root, root_id, [&] { write_resolv_conf(resolver); });
  }
}

// vzctl's --userpasswd: on a running CT through its init's root, else in its files, with
// the ids its tree has now (a CT that never ran may not be shifted to its range yet).
void set_user_passwords(std::optional<pid_t> init, const CtSettings& current,
                        const std::vector<UserPassword>& passwords) {
  if (passwords.empty()) return;
  fs::path root = current.root;
  unsigned root_id = 0;
  if (init) {
    root = "/proc/" + std::to_string(*init) + "/root";
    root_id = ns::root_host_id(*init);
  } else {
    struct stat info {};
    if (root.empty() || ::lstat(root.c_str(), &info) || !S_ISDIR(info.st_mode))
      throw std::runtime_error("the CT has no files (VE_ROOT) to set a password in");
    root_id = info.st_uid;
  }
  for (const auto& entry : passwords) {
    const std::string hash = hash_password(entry.password);
    edit_ct_files(root, root_id, [&] { write_password(entry.user, hash); });
  }
}

// QUOTAUGIDLIMIT on the running CT: its quota calls read it at once. Its quota tools' device
// node is made at a start, so a CT started without the second level has it from its next
// start, as in vzctl.
void set_ugid_limit(const std::string& ctid, std::optional<pid_t> init, std::uint64_t limit, bool save,
                    std::vector<std::string>& warnings) {
  if (init && running_ugid_limit(ctid))
    write_running_ugid_limit(ctid, limit);
  else if (init && limit)
    warnings.push_back("CT " + ctid + " started without a second-level quota: --quotaugidlimit takes effect at " +
                       "its next start" + (save ? "" : ", with --save"));
  else if (!init && !save)
    warnings.push_back("CT " + ctid + " is not running: --quotaugidlimit holds nothing without --save");
}

}  // namespace

bool CtSettingChanges::has_live() const {
  return !hostname.empty() || !ipadd.empty() || !ipdel.empty() || !nameservers.empty() || !search_domains.empty() ||
         !user_passwords.empty();
}

bool CtSettingChanges::empty() const {
  return !has_live() && init.empty() && onboot.empty() && userns.empty() && devices.empty() && netdev_add.empty() &&
         netdev_del.empty() && capabilities.empty();
}

CtSettingChanges CtSettingChanges::next_start_only() const {
  CtSettingChanges changes = *this;
  changes.hostname.clear();
  changes.ipadd.clear();
  changes.ipdel.clear();
  changes.nameservers.clear();
  changes.search_domains.clear();
  changes.user_passwords.clear();
  return changes;
}

std::vector<std::string> apply_set(Host& host, const SetRequest& request) {
  const std::string& ctid = request.ctid;
  if (ctid != "0" && !host.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  const auto limits = parse_limit_texts(request.limit_texts);
  const sched::CpuSettings cpu = parse_cpu_texts(request);
  const sched::IoSettings io = parse_io_texts(request);
  std::vector<std::string> warnings;
  if (ctid == "0") {
    apply_host_set(host, request, cpu, io);
    return warnings;
  }
  const bool cpu_changed = cpu.cpuunits || cpu.cpulimit || cpu.cpus;
  const DiskQuotaSettings disk = parse_disk_texts(request);
  std::optional<std::uint32_t> project;
  if (!disk.empty()) {
    require_project_quota(Containers(host).settings(ctid));  // before anything changes
    project = ensure_quota_project(host.config_path(ctid));  // state, as a uid range: kept
  }
  std::optional<std::uint64_t> ugid_limit;
  if (!request.quotaugidlimit.empty()) {
    ugid_limit = parse_quotaugidlimit(request.quotaugidlimit);
    if (*ugid_limit) require_ugid_quota(Containers(host).settings(ctid), CtConfig::load(host.config_path(ctid)));
  }
  const CtSettingChanges& changes = request.settings;
  const auto passwords = parse_user_passwords(changes.user_passwords);
  auto planned = plan_setting_changes(host, ctid, changes);  // every change checked
  const auto init = Containers(host).status(ctid).init_pid;
  const CtSettings current = Containers(host).settings(ctid);
  // A running CT takes hostname, addresses and resolver at once; as vzctl, they are saved
  // only with --save (or when there is no running CT to take them).
  const bool live = init && changes.has_live();
  if (live && !request.save) {
    planned.reset();
    if (auto next_start = plan_setting_changes(host, ctid, changes.next_start_only()))
      planned.emplace(std::move(*next_start));
  }
  if (changes.empty() && !cpu_changed && io.empty() && disk.empty() && !ugid_limit && limits.empty())
    throw std::invalid_argument("set: nothing to set; give at least one --<resource> B[:L] or a setting");
  if (!io.empty() && !fs::exists(host.cgroup_of(ctid) / "io.max"))
    throw std::runtime_error("the cgroup v2 io controller is not enabled for CT " + ctid +
                             "; --ioprio, --iolimit and --iopslimit need it");
  if (!limits.empty() && !host.engine_loaded() && !request.save)
    throw std::runtime_error("the engine is not loaded; run `ubcctl load`, or use --save to only save");

  std::optional<ConfigLock> lock;
  CtConfig config;
  if (planned) {
    config = planned->config;
  } else if (request.save) {
    lock.emplace(host.config_path(ctid).parent_path());
    config = CtConfig::load(host.config_path(ctid));
  }
  if (cpu_changed) CpuControl(host).set_ct(ctid, cpu);
  if (!io.empty()) {
    // On the cgroup, running or not: a start writes the saved policy again, so a value set
    // without --save lasts until the CT's next start, as in vzctl.
    const auto devices = ct_block_devices(current);
    sched::apply_io_settings(host.cgroup_of(ctid), io, devices);
    if ((io.iolimit || io.iopslimit) && devices.empty())
      warnings.push_back("CT " + ctid + "'s files are on no block device (VE_ROOT " + current.root.string() +
                         ") and it is granted none: --iolimit and --iopslimit hold nothing until it is");
  }
  if (project) apply_disk_quota(current, *project, disk);
  if (ugid_limit) set_ugid_limit(ctid, init, *ugid_limit, request.save, warnings);
  if (host.engine_loaded())
    for (const auto& [resource, value] : limits) host.set_limits(ctid, resource, value);
  if (live) apply_live_settings(host, ctid, *init, current, changes);
  set_user_passwords(init, current, passwords);
  if (request.save) {
    store_cpu_settings(config, cpu);
    store_io_settings(config, io);
    store_disk_quota(config, disk);
    if (ugid_limit) config.set("QUOTAUGIDLIMIT", std::to_string(*ugid_limit));
    for (const auto& [resource, value] : limits) config.set_beancounter(resource_info(resource), value);
  }
  if (planned || request.save) config.save(host.config_path(ctid));
  return warnings;
}

std::optional<PlannedSettings> plan_setting_changes(Host& host, const std::string& ctid,
                                                    const CtSettingChanges& changes) {
  CtSettingChanges saved = changes;
  saved.user_passwords.clear();  // never kept
  if (saved.empty()) return std::nullopt;
  if (!host.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  ConfigLock lock(host.config_path(ctid).parent_path());
  PlannedSettings planned{CtConfig::load(host.config_path(ctid)), host.config_path(ctid), std::move(lock)};
  CtConfig& config = planned.config;
  CtSettings current = CtSettings::from(config);
  auto yes_no = [](const std::string& key, const std::string& value) {
    if (value != "yes" && value != "no") throw std::invalid_argument(key + " takes yes or no, not '" + value + "'");
    return value;
  };
  if (!changes.hostname.empty()) config.set("HOSTNAME", changes.hostname);
  if (!changes.init.empty()) config.set("INIT", changes.init);
  if (!changes.onboot.empty()) config.set("ONBOOT", yes_no("--onboot", changes.onboot));
  if (!changes.userns.empty()) {
    config.set("USERNS", yes_no("--userns", changes.userns));
    // Turned on for a CT that had none: a range of its own (an old USERNS="yes" config
    // without USERNS_IDMAP keeps its shared range).
    if (changes.userns == "yes" && !current.user_namespace && !config.get("USERNS_IDMAP")) {
      config.set("USERNS_IDMAP", format_user_mapping(free_user_range(host.config_path(ctid).parent_path())));
    }
  }
  if (!changes.capabilities.empty()) {
    std::vector<CapabilityChange> parsed;
    for (const auto& spec : changes.capabilities) parsed.push_back(parse_capability_change(spec));
    config.set("CAPABILITY", format_capability_changes(merge_capability_changes(current.capability_changes, parsed)));
  }
  auto addresses = current.ip_addresses;
  for (const auto& address : changes.ipadd) {
    validate_ip_address(address);
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) addresses.push_back(address);
  }
  for (const auto& address : changes.ipdel) {
    if (address == "all") addresses.clear();
    std::erase(addresses, address);
  }
  if (!changes.ipadd.empty() || !changes.ipdel.empty()) config.set("IP_ADDRESS", joined(addresses));
  if (!changes.nameservers.empty()) {
    for (const auto& server : changes.nameservers) validate_nameserver(server);
    config.set("NAMESERVER", joined(changes.nameservers));
  }
  if (!changes.search_domains.empty()) {
    for (const auto& domain : changes.search_domains) validate_search_domain(domain);
    config.set("SEARCHDOMAIN", joined(changes.search_domains));
  }
  if (!changes.devices.empty()) {
    std::vector<std::string> specs;
    std::vector<ns::DeviceNode> nodes;
    for (const auto& spec : changes.devices) {
      nodes.push_back(parse_device_node(spec));
      specs.push_back(spec);
    }
    try {
      device_rules(nodes);  // each names a device node the host has
    } catch (const std::exception& error) {
      throw std::invalid_argument(std::string("--devices: ") + error.what());
    }
    config.set("DEVNODES", joined(specs));
  }
  if (!changes.netdev_add.empty() || !changes.netdev_del.empty()) {
    auto devices = current.netdevs;
    for (const auto& device : changes.netdev_add) {
      validate_interface_name(device);
      if (std::find(devices.begin(), devices.end(), device) == devices.end()) devices.push_back(device);
    }
    for (const auto& device : changes.netdev_del) std::erase(devices, device);
    config.set("NETDEV", joined(devices));
  }
  CtSettings::from(config);  // refuse before writing anything
  return planned;
}

bool apply_setting_changes(Host& host, const std::string& ctid, const CtSettingChanges& changes) {
  auto planned = plan_setting_changes(host, ctid, changes);
  if (!planned) return false;
  planned->config.save(planned->file);
  return true;
}

}  // namespace ubc
