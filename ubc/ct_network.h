// A CT's network, routed the way vzctl's venet was: a veth pair per CT, the CT's end (eth0)
// holding its /32 and /128 addresses with default routes through it, the host's end
// answering ARP for the other CTs (proxy ARP; for IPv6 it is the gateway fe80::1) and
// routing each address to its CT. CTs reach each other and the host; nothing is bridged.
// IPv6 addresses turn on the host's IPv6 forwarding (as vzctl did), which makes Linux stop
// accepting router advertisements on the host's own interfaces unless accept_ra is 2.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ubc {

// The CT's end of its veth pair.
inline constexpr const char* kCtVethName = "eth0";

// The host end's name: "ubc" and the CT cgroup's id, unique while the CT exists.
std::string host_veth_name(std::uint64_t cgroup_id);

// From the host, for the CT whose init is `init_pid` (in its own network namespace).
void set_up_ct_network(pid_t init_pid, std::uint64_t cgroup_id, const std::vector<std::string>& addresses,
                       const std::vector<std::string>& netdevs);

// On a running CT: its addresses, with the host's routes to them. The first one makes the
// veth pair; adding one it has already is no error.
void add_ct_addresses(pid_t init_pid, std::uint64_t cgroup_id, const std::vector<std::string>& addresses);
// The host's half alone: its end of the pair up, routes to the addresses through it, proxy
// ARP and the IPv6 gateway on it. For a pair the host did not make (a restore's, CRIU's).
void route_to_ct_addresses(std::uint64_t cgroup_id, const std::vector<std::string>& addresses);
void remove_ct_addresses(pid_t init_pid, std::uint64_t cgroup_id, const std::vector<std::string>& addresses);

}  // namespace ubc
