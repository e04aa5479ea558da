#include "tests/bench/prog_stats.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <system_error>

namespace ubc::bench {

ProgramStats::ProgramStats() : enabled_(bpf_enable_stats(BPF_STATS_RUN_TIME)) {
  if (!enabled_) throw std::system_error(errno, std::generic_category(), "bpf_enable_stats(BPF_STATS_RUN_TIME)");
}

std::map<std::string, ProgramCost> ProgramStats::read() const {
  std::map<std::string, ProgramCost> costs;
  for (std::uint32_t id = 0; bpf_prog_get_next_id(id, &id) == 0;) {
    const UniqueFd program(bpf_prog_get_fd_by_id(id));
    if (!program) continue;  // unloaded meanwhile
    bpf_prog_info info{};
    std::uint32_t size = sizeof info;
    if (bpf_prog_get_info_by_fd(program.get(), &info, &size)) continue;
    const std::string name = info.name;
    if (!name.starts_with("ubc_")) continue;
    ProgramCost& cost = costs[name];  // names are cut at 15 bytes: alike ones add up
    cost.runs += info.run_cnt;
    cost.nanoseconds += info.run_time_ns;
  }
  return costs;
}

std::map<std::string, ProgramCost> difference(const std::map<std::string, ProgramCost>& before,
                                              const std::map<std::string, ProgramCost>& after) {
  std::map<std::string, ProgramCost> ran;
  for (const auto& [name, cost] : after) {
    const auto earlier = before.find(name);
    const ProgramCost base = earlier == before.end() ? ProgramCost{} : earlier->second;
    if (cost.runs > base.runs) ran[name] = {cost.runs - base.runs, cost.nanoseconds - base.nanoseconds};
  }
  return ran;
}

}  // namespace ubc::bench
