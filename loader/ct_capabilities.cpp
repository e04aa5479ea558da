#include "loader/ct_capabilities.h"

#include <linux/capability.h>
#include <sys/capability.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <stdexcept>

namespace ubc {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

}  // namespace

CapabilitySet default_ct_capabilities() {
  CapabilitySet set = 0;
  for (int capability :
       {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_SETFCAP, CAP_KILL,
        CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_SYS_CHROOT, CAP_AUDIT_WRITE, CAP_NET_ADMIN})
    set |= capability_bit(capability);
  return set;
}

std::string capability_name(int capability) {
  char* name = ::cap_to_name(static_cast<cap_value_t>(capability));
  if (!name) return std::to_string(capability);
  std::string result = name;
  ::cap_free(name);
  if (result.starts_with("cap_")) result.erase(0, 4);
  return result;
}

std::vector<std::string> capability_names(CapabilitySet set) {
  std::vector<std::string> names;
  for (int capability = 0; capability < 64; ++capability)
    if (has_capability(set, capability)) names.push_back(capability_name(capability));
  return names;
}

CapabilityChange parse_capability_change(const std::string& spec) {
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument("capability '" + spec + "': give NAME:on or NAME:off, e.g. sys_time:on");
  const std::string state = lower(spec.substr(colon + 1));
  if (state != "on" && state != "off")
    throw std::invalid_argument("capability '" + spec + "': the state must be on or off");
  std::string name = lower(spec.substr(0, colon));
  if (!name.starts_with("cap_")) name = "cap_" + name;
  cap_value_t value = 0;
  // cap_from_name also takes numbers; a CT's config names them.
  const bool numeric = std::all_of(name.begin() + 4, name.end(), [](unsigned char c) { return std::isdigit(c); });
  if (numeric || ::cap_from_name(name.c_str(), &value) || value < 0 || value > CAP_LAST_CAP)
    throw std::invalid_argument("capability '" + spec + "': unknown name '" + spec.substr(0, colon) +
                                "' (see capabilities(7), e.g. net_admin, sys_time)");
  return {static_cast<int>(value), state == "on"};
}

std::vector<CapabilityChange> parse_capability_changes(const std::string& value) {
  std::istringstream words(value);
  std::vector<CapabilityChange> changes;
  for (std::string word; words >> word;) changes.push_back(parse_capability_change(word));
  return merge_capability_changes({}, changes);
}

std::vector<CapabilityChange> merge_capability_changes(std::vector<CapabilityChange> current,
                                                       const std::vector<CapabilityChange>& changes) {
  std::map<int, bool> merged;
  for (const auto& change : current) merged[change.capability] = change.on;
  for (const auto& change : changes) merged[change.capability] = change.on;
  std::vector<CapabilityChange> result;
  for (const auto& [capability, on] : merged) result.push_back({capability, on});
  return result;
}

std::string format_capability_changes(const std::vector<CapabilityChange>& changes) {
  std::string text;
  for (const auto& change : changes)
    text += (text.empty() ? "" : " ") + upper(capability_name(change.capability)) + (change.on ? ":on" : ":off");
  return text;
}

CapabilitySet apply_capability_changes(CapabilitySet set, const std::vector<CapabilityChange>& changes) {
  for (const auto& change : changes) {
    if (change.on)
      set |= capability_bit(change.capability);
    else
      set &= ~capability_bit(change.capability);
  }
  return set;
}

}  // namespace ubc
