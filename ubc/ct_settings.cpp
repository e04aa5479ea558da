#include "ubc/ct_settings.h"

#include <arpa/inet.h>

#include <functional>
#include <sstream>
#include <stdexcept>

namespace ubc {

namespace {

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> result;
  for (std::string word; in >> word;) result.push_back(word);
  return result;
}

bool yes(const std::optional<std::string>& value) {
  return value && (*value == "yes" || *value == "1" || *value == "true");
}

}  // namespace

IpFamily validate_ip_address(const std::string& address) {
  in6_addr parsed{};
  if (::inet_pton(AF_INET, address.c_str(), &parsed) == 1) return IpFamily::v4;
  if (::inet_pton(AF_INET6, address.c_str(), &parsed) == 1) return IpFamily::v6;
  throw std::invalid_argument("'" + address + "' is not an IPv4 or IPv6 address (give it without a mask)");
}

void validate_nameserver(const std::string& server) {
  if (server != "inherit") validate_ip_address(server);
}

void validate_search_domain(const std::string& domain) {
  const bool bad_character =
      domain.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
      std::string::npos;
  if (domain.empty() || domain.size() > 253 || bad_character)
    throw std::invalid_argument("'" + domain + "' is not a domain name (letters, digits, '.', '-', '_'; or inherit)");
}

void validate_interface_name(const std::string& name) {
  const bool bad_character = name.find_first_of("/: \t\n") != std::string::npos;
  if (name.empty() || name.size() > 15 || bad_character || name == "." || name == "..")
    throw std::invalid_argument("'" + name +
                                "' is not a network interface name (1-15 characters, no '/', ':' or spaces)");
}

ns::DeviceNode parse_device_node(const std::string& spec) {
  const auto colon = spec.find(':');
  ns::DeviceNode node{spec.substr(0, colon), true};
  const std::string mode = colon == std::string::npos ? "rw" : spec.substr(colon + 1);
  if (node.name.empty() || node.name.find("..") != std::string::npos || node.name.front() == '/')
    throw std::invalid_argument("device '" + spec + "': give a node name under /dev, e.g. ttyS0 or sda1");
  if (mode == "r")
    node.writable = false;
  else if (mode == "w")
    node.readable = false;
  else if (mode != "rw")
    throw std::invalid_argument("device '" + spec + "': mode must be r, w or rw");
  return node;
}

ns::UserMapping parse_user_mapping(const std::string& value) {
  const auto colon = value.find(':');
  auto number = [&](const std::string& text) -> std::uint64_t {
    if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos)
      throw std::invalid_argument("'" + value + "' is not HOST_FIRST:COUNT (e.g. 165536:65536)");
    return std::stoull(text);
  };
  if (colon == std::string::npos) number("");
  const std::uint64_t first = number(value.substr(0, colon)), count = number(value.substr(colon + 1));
  if (first == 0 || count == 0 || first + count > (std::uint64_t{1} << 32))
    throw std::invalid_argument("'" + value + "': the range must be above host id 0, not empty, and within 32 bits");
  return {static_cast<unsigned>(first), static_cast<unsigned>(count)};
}

std::string format_user_mapping(const ns::UserMapping& mapping) {
  return std::to_string(mapping.host_first) + ":" + std::to_string(mapping.count);
}

CtSettings CtSettings::from(const CtConfig& config) {
  CtSettings settings;
  auto fail = [&](const std::string& key, const std::string& reason) {
    throw ConfigError(config.file(), config.line_of(key), key + ": " + reason);
  };
  if (auto root = config.get("VE_ROOT")) settings.root = *root;
  if (auto area = config.get("VE_PRIVATE")) settings.private_area = *area;
  if (settings.root.empty()) settings.root = settings.private_area;
  if (settings.private_area.empty()) settings.private_area = settings.root;
  if (!settings.root.empty() && settings.root.is_relative()) fail("VE_ROOT", "must be an absolute path");
  settings.ostemplate = config.get("OSTEMPLATE").value_or("");
  settings.hostname = config.get("HOSTNAME").value_or("");
  if (settings.hostname.size() > 64) fail("HOSTNAME", "longer than 64 characters");
  // A key holding blank-separated values, each checked by `validate`.
  auto checked_words = [&](const char* key, const std::function<void(const std::string&)>& validate) {
    std::vector<std::string> values = words(config.get(key).value_or(""));
    for (const auto& value : values) {
      try {
        validate(value);
      } catch (const std::invalid_argument& error) {
        fail(key, error.what());
      }
    }
    return values;
  };
  settings.ip_addresses = checked_words("IP_ADDRESS", [](const std::string& address) { validate_ip_address(address); });
  settings.nameservers = checked_words("NAMESERVER", validate_nameserver);
  settings.search_domains = checked_words("SEARCHDOMAIN", validate_search_domain);
  if (auto init = config.get("INIT")) {
    settings.init = words(*init);
    if (settings.init.empty()) fail("INIT", "empty");
  }
  settings.user_namespace = yes(config.get("USERNS"));
  if (auto idmap = config.get("USERNS_IDMAP")) {
    try {
      settings.user_mapping = parse_user_mapping(*idmap);
    } catch (const std::invalid_argument& error) {
      fail("USERNS_IDMAP", error.what());
    }
  }
  try {
    settings.capability_changes = parse_capability_changes(config.get("CAPABILITY").value_or(""));
  } catch (const std::invalid_argument& error) {
    fail("CAPABILITY", error.what());
  }
  settings.capabilities = apply_capability_changes(default_ct_capabilities(), settings.capability_changes);
  settings.onboot = yes(config.get("ONBOOT"));
  for (const auto& spec : words(config.get("DEVNODES").value_or(""))) {
    try {
      settings.devices.push_back(parse_device_node(spec));
    } catch (const std::invalid_argument& error) {
      fail("DEVNODES", error.what());
    }
  }
  settings.netdevs = checked_words("NETDEV", validate_interface_name);
  return settings;
}

}  // namespace ubc
