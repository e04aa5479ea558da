#include "ubc/consistency.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>

#include "loader/cgroup.h"
#include "ubc/containers.h"
#include "ubc/ct_config.h"
#include "ubc/ct_settings.h"
#include "ubc/host.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

using Kind = ConsistencyFinding::Kind;

// The process that writes `NAME.tmp.PID` (CtConfig::save), if it still runs.
bool save_in_progress(const fs::path& temporary) {
  const std::string name = temporary.filename();
  const auto at = name.rfind(".tmp.");
  if (at == std::string::npos) return false;
  try {
    const pid_t pid = std::stoi(name.substr(at + 5));
    return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
  } catch (const std::exception&) {
    return false;
  }
}

// Temporary files that a killed save left in the config directory.
std::vector<fs::path> abandoned_saves() {
  std::vector<fs::path> found;
  std::error_code none;  // no config directory: nothing abandoned
  for (const auto& entry : fs::directory_iterator(config_dir(), none))
    if (entry.path().filename().string().find(".conf.tmp.") != std::string::npos && !save_in_progress(entry.path()))
      found.push_back(entry.path());
  return found;
}

// A template a killed create unpacked aside, next to the area its CT's config names (the
// config is written before the unpacking starts, the CT's cgroup made after it ends).
struct PartialArea {
  std::string ctid;
  fs::path area, partial;
  // Killed after the CT was made: the unpacking is whole, and the CT's files belong in place.
  bool completes(const Host& host) const {
    std::error_code none;
    return host.exists(ctid) && (!fs::exists(area, none) || fs::is_empty(area, none));
  }
};

std::vector<PartialArea> partial_areas() {
  std::vector<PartialArea> found;
  std::error_code none;
  for (const auto& entry : fs::directory_iterator(config_dir(), none)) {
    if (entry.path().extension() != ".conf") continue;
    try {
      const CtConfig config = CtConfig::load(entry.path());
      const auto area = config.get("VE_PRIVATE");
      if (config.get("UBC_OWNS_PRIVATE") != "yes" || !area || area->empty()) continue;
      if (const fs::path partial = partial_area(*area); fs::exists(partial))
        found.push_back({entry.path().stem().string(), *area, partial});
    } catch (const std::exception&) {
      // a config that does not read is reported as broken by check_configs
    }
  }
  return found;
}

void check_configs(const Host& host, std::vector<ConsistencyFinding>& findings) {
  std::error_code none;
  const auto page_size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  for (const auto& entry : fs::directory_iterator(config_dir(), none)) {
    if (entry.path().extension() != ".conf") continue;
    try {
      const CtConfig config = CtConfig::load(entry.path());
      if (entry.path().stem() == "ubc") continue;  // the host's own settings (HOST_CPUUNITS)
      config.beancounters(page_size);
      CtSettings::from(config);
    } catch (const std::exception& error) {
      findings.push_back({Kind::broken, entry.path().string(), std::string("does not read: ") + error.what()});
    }
  }
  for (const auto& file : abandoned_saves())
    findings.push_back({Kind::repairable, file.string(), "left by a save that was killed (the config is whole)"});
  for (const auto& area : partial_areas())
    findings.push_back({Kind::repairable, area.partial.string(),
                        area.completes(host) ? "the files of CT " + area.ctid +
                                                   ", made by a create killed before it "
                                                   "moved them into place"
                                             : std::string("a template half-unpacked by a create that was killed")});
}

void check_registry(Host& host, std::vector<ConsistencyFinding>& findings) {
  std::map<std::uint64_t, std::string> ct_of_cgroup;
  for (const auto& ctid : host.list()) {
    std::error_code gone;
    if (fs::is_directory(host.cgroup_of(ctid), gone)) ct_of_cgroup[cgroup::id_of(host.cgroup_of(ctid))] = ctid;
  }
  std::set<std::uint64_t> bound;
  std::map<std::uint32_t, std::uint64_t> cgroup_of_slot;
  const Engine engine = Engine::open(host.paths().pin_dir);
  for (const auto& binding : engine.checked_bindings()) {
    const std::string slot = "slot " + std::to_string(binding.slot);
    bound.insert(binding.cgroup_id);
    if (binding.slot == 0 || binding.slot >= UBC_MAX_CTS) {
      findings.push_back(
          {Kind::broken, slot, "is no slot, yet cgroup id " + std::to_string(binding.cgroup_id) + " is bound to it"});
      continue;
    }
    if (binding.slot_cgroup_id != binding.cgroup_id)
      findings.push_back({Kind::broken, slot,
                          "is bound to cgroup id " + std::to_string(binding.cgroup_id) + " but records cgroup id " +
                              std::to_string(binding.slot_cgroup_id)});
    if (auto [other, fresh] = cgroup_of_slot.emplace(binding.slot, binding.cgroup_id); !fresh)
      findings.push_back({Kind::broken, slot,
                          "is bound to two cgroups (ids " + std::to_string(other->second) + " and " +
                              std::to_string(binding.cgroup_id) + ")"});
    if (!ct_of_cgroup.contains(binding.cgroup_id))
      findings.push_back({Kind::repairable, slot,
                          "is bound to cgroup id " + std::to_string(binding.cgroup_id) +
                              ", which is no CT's (removed, or recreated by another runtime)"});
  }
  for (const std::uint32_t slot : engine.unbound_slots_in_use())
    findings.push_back({Kind::repairable, "slot " + std::to_string(slot), "is marked in use but bound to no cgroup"});
  for (const auto& [cgroup_id, ctid] : ct_of_cgroup)
    if (!bound.contains(cgroup_id))
      findings.push_back({Kind::repairable, "CT " + ctid, "its cgroup is not registered with the engine"});
}

}  // namespace

std::vector<ConsistencyFinding> check_consistency(Host& host) {
  std::vector<ConsistencyFinding> findings;
  check_configs(host, findings);
  if (host.engine_loaded()) check_registry(host, findings);
  return findings;
}

std::vector<std::string> repair_consistency(Host& host) {
  std::vector<std::string> repairs = host.reconcile();
  // Under the config lock: no save or create of this host is between its steps.
  const ConfigLock lock(config_dir());
  for (const auto& file : abandoned_saves()) {
    fs::remove(file);
    repairs.push_back(file.string() + ": removed (left by a killed save)");
  }
  for (const auto& area : partial_areas()) {
    if (area.completes(host)) {
      fs::create_directories(area.area.parent_path());
      fs::rename(area.partial, area.area);  // over an empty directory, as create does
      repairs.push_back(area.area.string() + ": CT " + area.ctid + "'s files moved into place (a killed create)");
      continue;
    }
    fs::remove_all(area.partial);
    repairs.push_back(area.partial.string() + ": removed (half-unpacked by a killed create)");
  }
  return repairs;
}

}  // namespace ubc
