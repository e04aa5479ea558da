#include "ubc/report.h"

#include <cinttypes>
#include <cstdio>

namespace ubc {

std::string format_user_beancounters(std::span<const ContainerUsage> containers) {
  std::string text = "Version: 2.5\n";
  char line[256];
  std::snprintf(line, sizeof line, "%10s  %-12s %20s %20s %20s %20s %20s\n", "uid", "resource", "held", "maxheld",
                "barrier", "limit", "failcnt");
  text += line;
  for (const auto& container : containers) {
    bool first = true;
    auto add_row = [&](std::string_view name, const ubc_counter& c) {
      std::snprintf(line, sizeof line,
                    "%10s%c %-12s %20" PRIu64 " %20" PRIu64 " %20" PRIu64 " %20" PRIu64 " %20" PRIu64 "\n",
                    first ? container.id.c_str() : "", first ? ':' : ' ', std::string(name).c_str(),
                    static_cast<std::uint64_t>(c.held), static_cast<std::uint64_t>(c.maxheld),
                    static_cast<std::uint64_t>(c.barrier), static_cast<std::uint64_t>(c.limit),
                    static_cast<std::uint64_t>(c.failcnt));
      text += line;
      first = false;
    };
    for (const auto& usage : container.resources) {
      // OpenVZ kept swappages out of this file (it is in /proc/bc/resources); JSON has it.
      if (usage.resource->id == UBC_SWAPPAGES) continue;
      add_row(usage.resource->name, usage.counter);
      // OpenVZ's placeholder rows, where its kernel had them, so that parsers counting
      // rows find what they found there.
      const int dummies = usage.resource->id == UBC_SHMPAGES ? 1 : usage.resource->id == UBC_NUMFILE ? 3 : 0;
      for (int i = 0; i < dummies; ++i) add_row("dummy", ubc_counter{});
    }
  }
  return text;
}

nlohmann::json report_json(std::span<const ContainerUsage> containers) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& container : containers) {
    nlohmann::json resources = nlohmann::json::object();
    for (const auto& usage : container.resources) {
      const ubc_counter& c = usage.counter;
      resources[std::string(usage.resource->name)] = {
          {"held", c.held}, {"maxheld", c.maxheld}, {"barrier", c.barrier}, {"limit", c.limit}, {"failcnt", c.failcnt}};
    }
    list.push_back({{"ctid", container.id}, {"resources", std::move(resources)}});
  }
  return {{"version", "2.5"}, {"containers", std::move(list)}};
}

}  // namespace ubc
