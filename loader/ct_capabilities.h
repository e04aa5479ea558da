// A CT's Linux capabilities: the default set every CT's root starts with, and vzctl's
// `--capability NAME:on|off` changes to it (CAPABILITY="SYS_TIME:on NET_ADMIN:off" in the
// CT's config). The names and numbers are the kernel's, through libcap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ubc {

// Bit N set: capability N (CAP_CHOWN is 0). The kernel has fewer than 64.
using CapabilitySet = std::uint64_t;

inline constexpr CapabilitySet capability_bit(int capability) {
  return CapabilitySet{1} << capability;
}
inline bool has_capability(CapabilitySet set, int capability) {
  return set & capability_bit(capability);
}

// Docker's default set (CHOWN DAC_OVERRIDE FSETID FOWNER SETGID SETUID SETPCAP SETFCAP KILL
// NET_BIND_SERVICE NET_RAW SYS_CHROOT AUDIT_WRITE) plus NET_ADMIN, as LXC keeps it: the CT
// has its own network namespace and its own nftables ruleset (counted in numiptent).
// Without MKNOD (the engine's device rules are the only guard once a node exists), without
// DAC_READ_SEARCH (open_by_handle_at reads any file of a file system the CT can see), and
// without SYS_NICE (real-time classes run above both CPU enforcers).
CapabilitySet default_ct_capabilities();

struct CapabilityChange {
  int capability = 0;
  bool on = false;
  bool operator==(const CapabilityChange&) const = default;
};

// "net_admin:on", "SYS_TIME:off", "cap_kill:on": vzctl's syntax, any case, with or without
// the cap_ prefix. Throws std::invalid_argument naming the bad part.
CapabilityChange parse_capability_change(const std::string& spec);
// CAPABILITY's value: space-separated changes. Throws std::invalid_argument.
std::vector<CapabilityChange> parse_capability_changes(const std::string& value);
// `current` with `changes` laid over it: a later change of one capability replaces an
// earlier one; ordered by capability number.
std::vector<CapabilityChange> merge_capability_changes(std::vector<CapabilityChange> current,
                                                       const std::vector<CapabilityChange>& changes);
// CAPABILITY's value for `changes`, upper-case as vzctl writes it: "NET_ADMIN:off SYS_TIME:on".
std::string format_capability_changes(const std::vector<CapabilityChange>& changes);

CapabilitySet apply_capability_changes(CapabilitySet set, const std::vector<CapabilityChange>& changes);

// "net_admin" (lower-case, without cap_), as vzctl names them.
std::string capability_name(int capability);
// The names in `set`, by number.
std::vector<std::string> capability_names(CapabilitySet set);

}  // namespace ubc
