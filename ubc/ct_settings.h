// What a CT's config file says about running it (vzctl's keys): where its files are, its
// hostname and addresses, its init, its devices. Parsed and checked in one place, so that a
// bad value is refused with the file, line and reason before anything starts.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "loader/namespaces.h"
#include "ubc/ct_config.h"

namespace ubc {

struct CtSettings {
  std::filesystem::path root;                   // VE_ROOT: the CT's / while it runs
  std::filesystem::path private_area;           // VE_PRIVATE: its files (the same directory in ubc)
  std::string ostemplate;                       // OSTEMPLATE: the tarball it was made from, if any
  std::string hostname;                         // HOSTNAME
  std::vector<std::string> ip_addresses;        // IP_ADDRESS, IPv4, space-separated
  std::vector<std::string> init{"/sbin/init"};  // INIT, split on blanks
  bool user_namespace = false;                  // USERNS="yes"
  bool onboot = false;                          // ONBOOT="yes"
  std::vector<ns::DeviceNode> devices;          // DEVNODES="ttyS0:rw sda1:r"
  std::vector<std::string> netdevs;             // NETDEV="eth1 ..." host interfaces moved in

  static CtSettings from(const CtConfig& config);
};

enum class IpFamily { v4, v6 };
// The family of a CT address (vzctl's IP_ADDRESS holds both, without masks); throws
// std::invalid_argument for anything else.
IpFamily validate_ip_address(const std::string& address);
// Throws std::invalid_argument unless `name` can name a network interface (1-15 bytes, no
// '/', ':' or whitespace, not "." or "..").
void validate_interface_name(const std::string& name);
// Throws std::invalid_argument unless `spec` is NAME[:r|:rw|:w] naming a node under /dev.
ns::DeviceNode parse_device_node(const std::string& spec);

}  // namespace ubc
