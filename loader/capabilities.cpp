#include "loader/capabilities.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "loader/cgroup.h"
#include "loader/criu_version.h"
#include "loader/engine.h"
#include "loader/proc_view.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

using cgroup::first_line;

std::string command_output(const char* command) {
  std::string output;
  if (FILE* pipe = ::popen(command, "r")) {
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
    ::pclose(pipe);
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return output;
}

Capability probe_cgroup_v2() {
  auto mount = cgroup::find_v2_mount();
  if (mount) return {"cgroup v2", true, "mounted at " + mount->string(), "", true};
  return {"cgroup v2", false, "no cgroup2 mount", "CTs cannot be created: mount -t cgroup2 none /sys/fs/cgroup", true};
}

// Not required to load the engine, but `load` remounts with it or refuses.
Capability probe_cgroup_delegation() {
  const auto mount = cgroup::find_v2_mount();
  if (!mount) return {"cgroup nsdelegate", false, "no cgroup2 mount", "CTs cannot be created", false};
  if (cgroup::has_nsdelegate(*mount))
    return {"cgroup nsdelegate", true, mount->string() + " has nsdelegate: a CT cannot write its own limits", "",
            false};
  return {"cgroup nsdelegate", false, mount->string() + " is mounted without nsdelegate",
          "a CT with a nested user namespace could rewrite its own memory.max and cpu.max; ubcctl load remounts "
          "it with nsdelegate (or refuses)",
          false};
}

Capability probe_btf() {
  if (fs::exists("/sys/kernel/btf/vmlinux")) return {"kernel BTF", true, "/sys/kernel/btf/vmlinux", "", true};
  return {"kernel BTF", false, "/sys/kernel/btf/vmlinux missing",
          "CO-RE programs cannot load: use a kernel built with CONFIG_DEBUG_INFO_BTF", true};
}

Capability probe_bpf_lsm_active() {
  const fs::path lsm_file = "/sys/kernel/security/lsm";
  if (!fs::exists(lsm_file))
    return {"BPF LSM active", false, "cannot read " + lsm_file.string() + " (securityfs not mounted?)",
            "mount -t securityfs securityfs /sys/kernel/security and check again", true};
  const std::string lsms = first_line(lsm_file);
  std::istringstream list(lsms);
  for (std::string name; std::getline(list, name, ',');)
    if (name == "bpf") return {"BPF LSM active", true, "lsm=" + lsms, "", true};
  return {"BPF LSM active", false, "lsm=" + lsms + " (no bpf)",
          "add bpf to the lsm= kernel parameter, or use the bundled VM: tools/ubc-vm", true};
}

Capability probe_engine_loadable(const std::string& reason) {
  if (reason.empty()) return {"BPF engine loadable", true, "the kernel verified and accepted ubc's programs", "", true};
  std::string first = reason.substr(0, reason.find('\n'));
  return {"BPF engine loadable", false, first,
          "beancounters cannot be enforced on this kernel; run ubc in the bundled VM: tools/ubc-vm", true};
}

Capability probe_memory_controller() {
  const auto mount = cgroup::find_v2_mount();
  const std::string controllers = mount ? first_line(*mount / "cgroup.controllers") : "";
  if (controllers.find("memory") != std::string::npos)
    return {"memory controller", true, "cgroup v2 memory controller available", "", false};
  return {"memory controller", false, "no memory controller in the cgroup v2 hierarchy",
          "ubcctl create fails: physpages, swappages, kmemsize, dcachesize, oomguarpages and the non-SysV "
          "part of shmpages are read from it",
          false};
}

Capability probe_nf_tables() {
  if (nf_tables_available()) return {"nf_tables", true, "module loaded", "", false};
  return {"nf_tables", false, "no nf_tables in this kernel (modprobe nf_tables failed)",
          "numiptent is not counted: the engine leaves its programs out (there is no nftables to count)", false};
}

Capability probe_user_namespaces() {
  const std::string max = first_line("/proc/sys/user/max_user_namespaces");
  if (!max.empty() && max != "0") return {"user namespaces", true, "max_user_namespaces " + max, "", false};
  return {"user namespaces", false, "user namespaces are disabled (user.max_user_namespaces = 0)",
          "CTs cannot use --userns; their root is the host's root, with host capabilities dropped", false};
}

Capability probe_fuse() {
  if (ns::proc_view_available()) return {"FUSE", true, "/dev/fuse opens", "", false};
  return {"FUSE", false, "/dev/fuse does not open (modprobe fuse)",
          "CTs start with a plain procfs as /proc: no /proc/user_beancounters inside them", false};
}

Capability probe_container_tools() {
  std::string missing;
  for (const char* tool : {"ip", "tar", "cp"})
    if (command_output((std::string("command -v ") + tool + " 2>/dev/null").c_str()).empty())
      missing += std::string(" ") + tool;
  if (missing.empty()) return {"CT tools", true, "ip (iproute2), tar, cp found", "", false};
  return {"CT tools", false, "missing:" + missing,
          "ubcctl start cannot give CTs addresses without ip; create --ostemplate needs tar; clone needs cp", false};
}

Capability probe_sched_ext() {
  const fs::path state = "/sys/kernel/sched_ext/state";
  if (fs::exists(state)) return {"sched_ext", true, "state " + first_line(state), "", false};
  return {"sched_ext", false, "no /sys/kernel/sched_ext (CONFIG_SCHED_CLASS_EXT not set)",
          "the CPU policy is enforced through cgroup cpu.weight / cpu.max / cpuset.cpus by the kernel's fair class",
          false};
}

Capability probe_criu() {
  const std::string output = command_output("criu --version 2>/dev/null");
  const auto version = parse_criu_version(output);
  if (!version)
    return {"CRIU", false, output.empty() ? "criu not found in PATH" : "criu --version said: " + output,
            "chkpnt's dump, restore and migrate are unavailable (only chkpnt --suspend / --resume work)", false};
  if (*version < kOldestUsableCriu)
    return {"CRIU", false, "criu " + version->text() + " is older than " + kOldestUsableCriu.text(),
            "its dumps fail on current kernels: install criu " + kOldestUsableCriu.text() + " or later", false};
  return {"CRIU", true, "criu " + version->text(), "", false};
}

}  // namespace

Capability criu_capability() {
  return probe_criu();
}

std::string engine_unavailable_reason() {
  if (::geteuid() != 0) return "not running as root";
  auto reason = Engine::probe_load();
  return reason ? *reason : std::string();
}

std::vector<Capability> probe_capabilities() {
  return {probe_cgroup_v2(),
          probe_cgroup_delegation(),
          probe_btf(),
          probe_bpf_lsm_active(),
          probe_engine_loadable(engine_unavailable_reason()),
          probe_memory_controller(),
          probe_nf_tables(),
          probe_user_namespaces(),
          probe_fuse(),
          probe_container_tools(),
          probe_sched_ext(),
          probe_criu()};
}

}  // namespace ubc
