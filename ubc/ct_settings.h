// What a CT's config file says about running it (vzctl's keys): where its files are, its
// hostname and addresses, its init, its devices. Parsed and checked in one place, so that a
// bad value is refused with the file, line and reason before anything starts.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "loader/ct_capabilities.h"
#include "loader/namespaces.h"
#include "ubc/ct_config.h"

namespace ubc {

struct CtSettings {
  std::filesystem::path root;                   // VE_ROOT: the CT's / while it runs
  std::filesystem::path private_area;           // VE_PRIVATE: its files (the same directory in ubc)
  std::string ostemplate;                       // OSTEMPLATE: the tarball it was made from, if any
  std::string hostname;                         // HOSTNAME
  std::vector<std::string> ip_addresses;        // IP_ADDRESS, IPv4, space-separated
  std::vector<std::string> nameservers;         // NAMESERVER: addresses, or "inherit" (the host's)
  std::vector<std::string> search_domains;      // SEARCHDOMAIN: domains, or "inherit"
  std::vector<std::string> init{"/sbin/init"};  // INIT, split on blanks
  bool user_namespace = false;                  // USERNS="yes"
  // USERNS_IDMAP="HOST_FIRST:COUNT": the host ids of the CT's 0..COUNT-1. A config that says
  // USERNS="yes" without it (made before ranges were per CT) keeps the old shared range.
  ns::UserMapping user_mapping;
  // CAPABILITY="SYS_TIME:on NET_ADMIN:off": vzctl's changes to the default set.
  std::vector<CapabilityChange> capability_changes;
  CapabilitySet capabilities = default_ct_capabilities();  // the default with the changes
  bool onboot = false;                                     // ONBOOT="yes"
  std::vector<ns::DeviceNode> devices;                     // DEVNODES="ttyS0:rw sda1:r"
  std::vector<std::string> netdevs;                        // NETDEV="eth1 ..." host interfaces moved in

  static CtSettings from(const CtConfig& config);
};

enum class IpFamily { v4, v6 };
// The family of a CT address (vzctl's IP_ADDRESS holds both, without masks); throws
// std::invalid_argument for anything else.
IpFamily validate_ip_address(const std::string& address);
// Throw std::invalid_argument unless the value is an IP address (a domain name, for
// SEARCHDOMAIN) or "inherit".
void validate_nameserver(const std::string& server);
void validate_search_domain(const std::string& domain);
// Throws std::invalid_argument unless `name` can name a network interface (1-15 bytes, no
// '/', ':' or whitespace, not "." or "..").
void validate_interface_name(const std::string& name);
// Throws std::invalid_argument unless `spec` is NAME[:r|:rw|:w] naming a node under /dev.
ns::DeviceNode parse_device_node(const std::string& spec);
// USERNS_IDMAP's value, "HOST_FIRST:COUNT"; throws std::invalid_argument. A range must not
// include host id 0 and must fit in 32 bits.
ns::UserMapping parse_user_mapping(const std::string& value);
std::string format_user_mapping(const ns::UserMapping& mapping);

}  // namespace ubc
