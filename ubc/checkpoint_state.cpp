#include "ubc/checkpoint_state.h"

#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "ubc/resource_table.h"

namespace ubc {

namespace {

constexpr int kFormat = 1;

std::uint64_t figure(const nlohmann::json& row, const char* name, const std::string& resource) {
  const auto found = row.find(name);
  if (found == row.end() || !found->is_number_unsigned())
    throw std::invalid_argument("checkpoint state: " + resource + "." + name + " is not a number");
  return found->get<std::uint64_t>();
}

std::string text(const nlohmann::json& state, const char* name) {
  const auto found = state.find(name);
  if (found == state.end() || !found->is_string())
    throw std::invalid_argument(std::string("checkpoint state: no ") + name);
  return found->get<std::string>();
}

// CPU settings as an object of the ones set ({"cpuunits": 2000}), and back.
constexpr std::pair<const char*, std::optional<std::uint32_t> sched::CpuSettings::*> kCpuFields[] = {
    {"cpuunits", &sched::CpuSettings::cpuunits},
    {"cpulimit", &sched::CpuSettings::cpulimit},
    {"cpus", &sched::CpuSettings::cpus}};

nlohmann::json cpu_json(const sched::CpuSettings& cpu) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [name, field] : kCpuFields)
    if (cpu.*field) json[name] = *(cpu.*field);
  return json;
}

sched::CpuSettings cpu_from(const nlohmann::json& state) {
  sched::CpuSettings cpu;
  const auto found = state.find("cpu");
  if (found == state.end()) return cpu;  // a checkpoint from before ubc kept them
  if (!found->is_object()) throw std::invalid_argument("checkpoint state: cpu is not an object");
  for (const auto& [name, field] : kCpuFields) {
    if (!found->contains(name)) continue;
    const std::uint64_t value = figure(*found, name, "cpu");
    if (value > UINT32_MAX) throw std::invalid_argument(std::string("checkpoint state: cpu.") + name + " is too big");
    cpu.*field = static_cast<std::uint32_t>(value);
  }
  return cpu;
}

}  // namespace

std::string format_checkpoint_state(const CheckpointState& state) {
  nlohmann::json rows = nlohmann::json::object();
  for (const auto& row : state.rows)
    rows[std::string(row.resource->name)] = {{"held", row.counter.held},
                                             {"maxheld", row.counter.maxheld},
                                             {"barrier", row.counter.barrier},
                                             {"limit", row.counter.limit},
                                             {"failcnt", row.counter.failcnt}};
  nlohmann::json json = {{"format", kFormat},        {"ctid", state.ctid},
                         {"console", state.console}, {"dumped_at", state.dumped_at},
                         {"resources", rows},        {"cpu", cpu_json(state.cpu)}};
  json["restored_at"] = state.restored_at ? nlohmann::json(*state.restored_at) : nlohmann::json(nullptr);
  return json.dump(2) + "\n";
}

CheckpointState parse_checkpoint_state(const std::string& input) {
  const nlohmann::json json = nlohmann::json::parse(input, nullptr, false);
  if (json.is_discarded() || !json.is_object()) throw std::invalid_argument("checkpoint state: not a JSON object");
  if (json.value("format", 0) != kFormat)
    throw std::invalid_argument("checkpoint state: format " + json.value("format", nlohmann::json()).dump() +
                                ", this ubc reads format " + std::to_string(kFormat));
  CheckpointState state;
  state.ctid = text(json, "ctid");
  state.console = text(json, "console");
  state.dumped_at = text(json, "dumped_at");
  if (const auto restored = json.find("restored_at"); restored != json.end() && restored->is_string())
    state.restored_at = restored->get<std::string>();
  const auto rows = json.find("resources");
  if (rows == json.end() || !rows->is_object()) throw std::invalid_argument("checkpoint state: no resources");
  for (const auto& [name, row] : rows->items()) {
    const ResourceInfo* resource = find_resource(name);
    if (!resource) throw std::invalid_argument("checkpoint state: unknown resource " + name);
    state.rows.push_back({resource,
                          {figure(row, "held", name), figure(row, "maxheld", name), figure(row, "barrier", name),
                           figure(row, "limit", name), figure(row, "failcnt", name)}});
  }
  state.cpu = cpu_from(json);
  return state;
}

std::string checkpoint_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace ubc
