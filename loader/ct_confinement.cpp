#include "loader/ct_confinement.h"

#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <string>

#include "loader/error.h"
#include "loader/fd_passing.h"
#include "loader/seccomp_policy.h"

namespace ubc::ns {

namespace {

// The kernel's highest capability, which may be above the one these headers know.
int last_capability() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  in >> last;
  return last;
}

void set_process_capabilities(CapabilitySet granted) {
  const std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&::cap_free)> caps(::cap_init(), &::cap_free);
  if (!caps) throw_system_error("cap_init");
  for (int capability = 0; capability <= last_capability(); ++capability) {
    if (!has_capability(granted, capability)) continue;
    const cap_value_t value = capability;
    if (::cap_set_flag(caps.get(), CAP_PERMITTED, 1, &value, CAP_SET) ||
        ::cap_set_flag(caps.get(), CAP_EFFECTIVE, 1, &value, CAP_SET))
      throw_system_error("cap_set_flag(" + capability_name(capability) + ")");
  }
  if (::cap_set_proc(caps.get())) throw_system_error("capset(the CT's capabilities)");
}

}  // namespace

void confine_to_ct(CapabilitySet granted, int call_server) {
  const rlimit no_realtime{0, 0};
  if (::setrlimit(RLIMIT_RTPRIO, &no_realtime)) throw_system_error("setrlimit(RLIMIT_RTPRIO, 0)");
  // Needs CAP_SYS_ADMIN (no no_new_privs): before the capabilities go.
  const UniqueFd listener = seccomp::install_ct_filter(granted, call_server >= 0);
  if (listener) send_fd(call_server, listener.get(), "the CT's seccomp listener, to ubc-procfs");
  for (int capability = 0; capability <= last_capability(); ++capability) {
    if (has_capability(granted, capability)) continue;
    if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) && errno != EINVAL)
      throw_system_error("prctl(PR_CAPBSET_DROP, " + capability_name(capability) + ")");
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
    throw_system_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  set_process_capabilities(granted);
}

CapabilitySet bounding_set_of(pid_t pid) {
  const std::string file = "/proc/" + std::to_string(pid) + "/status";
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("CapBnd:")) return std::stoull(line.substr(7), nullptr, 16);
  throw std::runtime_error("no CapBnd in " + file + " (has the process ended?)");
}

void hide_from_ct_processes() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) throw_system_error("prctl(PR_SET_DUMPABLE, 0)");
}

}  // namespace ubc::ns
