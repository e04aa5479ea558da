#include "ubc/ct_network.h"

#include <filesystem>
#include <fstream>

#include "ubc/ct_settings.h"
#include "ubc/run_command.h"

namespace ubc {

std::string host_veth_name(std::uint64_t cgroup_id) {
  return "ubc" + std::to_string(cgroup_id % 1000000000000ULL);
}

namespace {
constexpr const char* kIpv6Gateway = "fe80::1";

void sysctl(const std::string& path, const std::string& value) {
  std::ofstream out("/proc/sys/" + path);
  out << value;
}
}  // namespace

void set_up_ct_network(pid_t init_pid, std::uint64_t cgroup_id, const std::vector<std::string>& addresses,
                       const std::vector<std::string>& netdevs) {
  const std::string pid = std::to_string(init_pid);
  run_or_throw({"ip", "link", "set", "lo", "up"}, init_pid);
  for (const auto& device : netdevs) {
    run_or_throw({"ip", "link", "set", "dev", device, "netns", pid});
    run_or_throw({"ip", "link", "set", "dev", device, "up"}, init_pid);
  }
  add_ct_addresses(init_pid, cgroup_id, addresses);
}

namespace {

struct Families {
  bool v4 = false, v6 = false;
};

Families families_of(const std::vector<std::string>& addresses) {
  Families families;
  for (const auto& address : addresses)
    (validate_ip_address(address) == IpFamily::v4 ? families.v4 : families.v6) = true;
  return families;
}

}  // namespace

void route_to_ct_addresses(std::uint64_t cgroup_id, const std::vector<std::string>& addresses) {
  if (addresses.empty()) return;
  const Families families = families_of(addresses);
  const std::string host_end = host_veth_name(cgroup_id);
  run_or_throw({"ip", "link", "set", host_end, "up"});
  if (families.v6) {
    // The CT's IPv6 gateway: a fixed link-local address on the host's end, so that the CT
    // needs no router advertisement. No DAD on either end: the link has two ends, both ours.
    sysctl("net/ipv6/conf/" + host_end + "/disable_ipv6", "0");
    run_or_throw({"ip", "-6", "addr", "replace", std::string(kIpv6Gateway) + "/64", "dev", host_end, "nodad"});
    sysctl("net/ipv6/conf/all/forwarding", "1");
  }
  if (families.v4) {
    sysctl("net/ipv4/conf/" + host_end + "/proxy_arp", "1");
    sysctl("net/ipv4/ip_forward", "1");
  }
  for (const auto& address : addresses) {
    if (validate_ip_address(address) == IpFamily::v4)
      run_or_throw({"ip", "route", "replace", address + "/32", "dev", host_end});
    else
      run_or_throw({"ip", "-6", "route", "replace", address + "/128", "dev", host_end});
  }
}

void add_ct_addresses(pid_t init_pid, std::uint64_t cgroup_id, const std::vector<std::string>& addresses) {
  if (addresses.empty()) return;
  const Families families = families_of(addresses);
  const std::string host_end = host_veth_name(cgroup_id);
  // The pair is made with the CT's first address, at start or later by set --ipadd.
  if (!std::filesystem::exists("/sys/class/net/" + host_end)) {
    run_or_throw({"ip", "link", "add", host_end, "type", "veth", "peer", "name", kCtVethName, "netns",
                  std::to_string(init_pid)});
    run_or_throw({"ip", "link", "set", kCtVethName, "up"}, init_pid);
  }
  for (const auto& address : addresses) {
    if (validate_ip_address(address) == IpFamily::v4)
      run_or_throw({"ip", "addr", "replace", address + "/32", "dev", kCtVethName}, init_pid);
    else
      run_or_throw({"ip", "-6", "addr", "replace", address + "/128", "dev", kCtVethName, "nodad"}, init_pid);
  }
  route_to_ct_addresses(cgroup_id, addresses);
  if (families.v4) run_or_throw({"ip", "route", "replace", "default", "dev", kCtVethName}, init_pid);
  if (families.v6)
    run_or_throw({"ip", "-6", "route", "replace", "default", "via", kIpv6Gateway, "dev", kCtVethName}, init_pid);
}

void remove_ct_addresses(pid_t init_pid, std::uint64_t cgroup_id, const std::vector<std::string>& addresses) {
  const std::string host_end = host_veth_name(cgroup_id);
  for (const auto& address : addresses) {
    const bool v4 = validate_ip_address(address) == IpFamily::v4;
    const std::string prefix = address + (v4 ? "/32" : "/128");
    // The route first: from then on the host sends the CT nothing more for it. Flushes,
    // because an address the CT does not have (or its root removed) is no error.
    run_or_throw({"ip", v4 ? "-4" : "-6", "route", "flush", "exact", prefix, "dev", host_end});
    run_or_throw({"ip", v4 ? "-4" : "-6", "addr", "flush", "dev", kCtVethName, "to", prefix}, init_pid);
  }
}

}  // namespace ubc
