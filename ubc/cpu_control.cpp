#include "ubc/cpu_control.h"

#include <stdexcept>

#include "loader/scheduler.h"
#include "sched/cpu_cgroup.h"
#include "ubc/cpu_settings.h"
#include "ubc/ct_config.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

fs::path host_config_path() {
  return config_dir() / "ubc.conf";
}

}  // namespace

void CpuControl::load_scheduler() {
  if (!host_.engine_loaded()) throw std::runtime_error("the engine is not loaded; run `ubcctl load` first");
  Scheduler::load(host_.paths().pin_dir, sched::cpu_weight(host_cpuunits()));
}

void CpuControl::unload_scheduler() {
  Scheduler::unload(host_.paths().pin_dir);
}

bool CpuControl::scheduler_loaded() const {
  return Scheduler::is_pinned(host_.paths().pin_dir);
}

std::uint32_t CpuControl::host_cpuunits() const {
  const CtConfig config = CtConfig::load(host_config_path());
  const auto value = config.get("HOST_CPUUNITS");
  if (!value) return sched::kDefaultCpuUnits;
  try {
    return sched::parse_cpuunits(*value);
  } catch (const std::exception& error) {
    throw ConfigError(host_config_path(), config.line_of("HOST_CPUUNITS"), error.what());
  }
}

void CpuControl::set_host_cpuunits(std::uint32_t cpuunits, bool save) {
  const std::uint32_t weight = sched::cpu_weight(cpuunits);
  if (save) {
    const ConfigLock lock(host_config_path().parent_path());
    CtConfig config = CtConfig::load(host_config_path());
    config.set("HOST_CPUUNITS", std::to_string(cpuunits));
    config.save(host_config_path());
  }
  if (scheduler_loaded()) Scheduler::open(host_.paths().pin_dir).set_host_weight(weight);
}

sched::CpuSettings CpuControl::running_settings(const std::string& ctid) const {
  return merge(cpu_settings_from(CtConfig::load(host_.config_path(ctid))),
               cpu_settings_from(CtConfig::load(live_cpu_settings_file(ctid))));
}

void CpuControl::set_ct(const std::string& ctid, const sched::CpuSettings& changes) {
  if (!host_.exists(ctid)) throw std::runtime_error("CT " + ctid + " does not exist");
  const fs::path live_file = live_cpu_settings_file(ctid);
  const ConfigLock lock(host_.config_path(ctid).parent_path());
  const CtConfig config = CtConfig::load(host_.config_path(ctid));
  CtConfig live = CtConfig::load(live_file);
  const sched::CpuSettings effective = merge(merge(cpu_settings_from(config), cpu_settings_from(live)), changes);
  sched::apply_cpu_settings(host_.cgroup_of(ctid), effective);
  if (const fs::path helpers = host_.helper_cgroup_of(ctid); fs::is_directory(helpers))
    sched::copy_cpu_policy(host_.cgroup_of(ctid), helpers);
  store_cpu_settings(live, effective);
  live.save(live_file);
}

}  // namespace ubc
