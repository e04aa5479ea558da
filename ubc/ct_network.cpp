#include "ubc/ct_network.h"

#include <fstream>

#include "ubc/run_command.h"

namespace ubc {

std::string host_veth_name(std::uint64_t cgroup_id) {
  return "ubc" + std::to_string(cgroup_id % 1000000000000ULL);
}

namespace {
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
  if (addresses.empty()) return;
  const std::string host_end = host_veth_name(cgroup_id);
  run_or_throw({"ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", pid});
  run_or_throw({"ip", "link", "set", host_end, "up"});
  sysctl("net/ipv4/conf/" + host_end + "/proxy_arp", "1");
  sysctl("net/ipv4/ip_forward", "1");
  run_or_throw({"ip", "link", "set", "eth0", "up"}, init_pid);
  for (const auto& address : addresses) {
    run_or_throw({"ip", "addr", "add", address + "/32", "dev", "eth0"}, init_pid);
    run_or_throw({"ip", "route", "replace", address + "/32", "dev", host_end});
  }
  run_or_throw({"ip", "route", "add", "default", "dev", "eth0"}, init_pid);
}

}  // namespace ubc
