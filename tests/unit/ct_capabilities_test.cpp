// A CT's capabilities: the default set, vzctl's --capability syntax, and CAPABILITY in the
// config; and the seccomp table's rows name calls libseccomp knows.
#include "loader/ct_capabilities.h"

#include <doctest/doctest.h>
#include <linux/capability.h>
#include <seccomp.h>

#include <cerrno>
#include <set>
#include <string>

#include "loader/seccomp_policy.h"
#include "ubc/ct_config.h"
#include "ubc/ct_settings.h"

TEST_CASE("the default set is Docker's plus NET_ADMIN, without what reaches past the CT") {
  const ubc::CapabilitySet set = ubc::default_ct_capabilities();
  for (int granted : {CAP_CHOWN, CAP_KILL, CAP_SETUID, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_NET_ADMIN})
    CHECK(ubc::has_capability(set, granted));
  for (int refused : {CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN, CAP_SYS_NICE, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_PTRACE,
                      CAP_SYS_TIME, CAP_MKNOD, CAP_SYS_RESOURCE, CAP_BPF, CAP_PERFMON, CAP_SYS_BOOT})
    CHECK_FALSE(ubc::has_capability(set, refused));
  CHECK(ubc::capability_names(ubc::capability_bit(CAP_NET_ADMIN) | ubc::capability_bit(CAP_CHOWN)) ==
        std::vector<std::string>{"chown", "net_admin"});
}

TEST_CASE("--capability NAME:on|off in any case, with or without cap_; anything else is refused") {
  CHECK(ubc::parse_capability_change("sys_time:on") == ubc::CapabilityChange{CAP_SYS_TIME, true});
  CHECK(ubc::parse_capability_change("NET_ADMIN:OFF") == ubc::CapabilityChange{CAP_NET_ADMIN, false});
  CHECK(ubc::parse_capability_change("cap_kill:off") == ubc::CapabilityChange{CAP_KILL, false});
  for (const char* bad : {"sys_time", "sys_time:", ":on", "sys_tim:on", "12:on", "net_admin:yes", ""})
    CHECK_THROWS_AS(ubc::parse_capability_change(bad), std::invalid_argument);
}

TEST_CASE("changes merge by capability, later wins, and are written as vzctl writes them") {
  const auto merged = ubc::merge_capability_changes(ubc::parse_capability_changes("SYS_TIME:on NET_ADMIN:off"),
                                                    {{CAP_SYS_TIME, false}, {CAP_MKNOD, true}});
  CHECK(ubc::format_capability_changes(merged) == "NET_ADMIN:off SYS_TIME:off MKNOD:on");
  const auto set = ubc::apply_capability_changes(ubc::default_ct_capabilities(), merged);
  CHECK(ubc::has_capability(set, CAP_MKNOD));
  CHECK_FALSE(ubc::has_capability(set, CAP_NET_ADMIN));
  CHECK_FALSE(ubc::has_capability(set, CAP_SYS_TIME));
}

TEST_CASE("CAPABILITY in a config: applied to the default set; a bad one is refused with its line") {
  auto settings =
      ubc::CtSettings::from(ubc::CtConfig::parse("HOSTNAME=\"h\"\nCAPABILITY=\"SYS_TIME:on\"\n", "101.conf"));
  CHECK(ubc::has_capability(settings.capabilities, CAP_SYS_TIME));
  try {
    ubc::CtSettings::from(ubc::CtConfig::parse("HOSTNAME=\"h\"\nCAPABILITY=\"SYS_TIME:yes\"\n", "101.conf"));
    FAIL("a bad capability was accepted");
  } catch (const ubc::ConfigError& error) {
    CHECK(std::string(error.what()).find("101.conf:2") != std::string::npos);
  }
}

TEST_CASE("the seccomp table: known calls, one row each, errnos a program expects") {
  std::set<std::string> names;
  for (const auto& call : ubc::seccomp::refused_calls()) {
    CAPTURE(call.name);
    CHECK(names.insert(call.name).second);
    CHECK(::seccomp_syscall_resolve_name(call.name) != __NR_SCMP_ERROR);
    CHECK((call.error == EPERM || call.error == ENOSYS));
    // A call the default set would let through is not refused at all.
    if (call.unless_capability >= 0)
      CHECK_FALSE(ubc::has_capability(ubc::default_ct_capabilities(), call.unless_capability));
  }
  for (const char* must : {"open_by_handle_at", "kexec_load", "init_module", "finit_module", "keyctl", "add_key",
                           "perf_event_open", "bpf", "io_uring_setup"})
    CHECK(names.count(must));
}
