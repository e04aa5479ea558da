#include "loader/seccomp_policy.h"

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>

#include "loader/error.h"

namespace ubc::seccomp {

const std::vector<RefusedCall>& refused_calls() {
  // Docker's default profile and LXC's, less what a CT's namespaces already contain. Calls
  // not listed are left to the capabilities and the namespaces: mount, unshare and clone
  // of namespaces stay (nested user namespaces lock the CT's mounts, and cgroup2's
  // nsdelegate keeps its limits), as LXC and Incus allow, so systemd can sandbox services.
  static const std::vector<RefusedCall> calls{
      // Kernel code and the machine.
      {"init_module", EPERM, CAP_SYS_MODULE},
      {"finit_module", EPERM, CAP_SYS_MODULE},
      {"delete_module", EPERM, CAP_SYS_MODULE},
      {"create_module", ENOSYS, -1},
      {"get_kernel_syms", ENOSYS, -1},
      {"query_module", ENOSYS, -1},
      {"kexec_load", EPERM, CAP_SYS_BOOT},
      {"kexec_file_load", EPERM, CAP_SYS_BOOT},
      {"reboot", EPERM, CAP_SYS_BOOT},
      {"iopl", EPERM, CAP_SYS_RAWIO},
      {"ioperm", EPERM, CAP_SYS_RAWIO},
      {"swapon", EPERM, CAP_SYS_ADMIN},
      {"swapoff", EPERM, CAP_SYS_ADMIN},
      {"acct", EPERM, CAP_SYS_PACCT},
      {"quotactl", EPERM, CAP_SYS_ADMIN},
      {"quotactl_fd", EPERM, CAP_SYS_ADMIN},
      {"lookup_dcookie", EPERM, CAP_SYS_ADMIN},
      {"nfsservctl", ENOSYS, -1},
      {"uselib", ENOSYS, -1},
      {"ustat", ENOSYS, -1},
      {"sysfs", ENOSYS, -1},
      {"vm86", ENOSYS, -1},
      {"vm86old", ENOSYS, -1},
      {"syslog", EPERM, CAP_SYSLOG},
      // The clock is the host's.
      {"settimeofday", EPERM, CAP_SYS_TIME},
      {"stime", EPERM, CAP_SYS_TIME},
      {"clock_settime", EPERM, CAP_SYS_TIME},
      {"clock_settime64", EPERM, CAP_SYS_TIME},
      {"clock_adjtime", EPERM, CAP_SYS_TIME},
      {"clock_adjtime64", EPERM, CAP_SYS_TIME},
      // A file handle opens an inode past any root directory. Making one (name_to_handle_at)
      // only names what the CT sees, as Docker and LXC allow: systemd reads cgroup ids so.
      {"open_by_handle_at", EPERM, CAP_DAC_READ_SEARCH},
      // The kernel keyring is not namespaced; ENOSYS as LXC, so systemd carries on without it.
      {"keyctl", ENOSYS, -1},
      {"add_key", ENOSYS, -1},
      {"request_key", ENOSYS, -1},
      // Observing and reaching into other processes past ptrace's checks.
      {"perf_event_open", EPERM, CAP_PERFMON},
      {"bpf", EPERM, -1},  // the engine refuses it to every CT task too: a CT must not reach its limits
      {"kcmp", EPERM, CAP_SYS_PTRACE},
      {"process_vm_readv", EPERM, CAP_SYS_PTRACE},
      {"process_vm_writev", EPERM, CAP_SYS_PTRACE},
      {"userfaultfd", EPERM, CAP_SYS_PTRACE},
      {"move_pages", EPERM, CAP_SYS_NICE},
      {"mbind", EPERM, CAP_SYS_NICE},
      {"set_mempolicy", EPERM, CAP_SYS_NICE},
      {"migrate_pages", EPERM, CAP_SYS_NICE},
      // io_uring runs its requests where no seccomp filter sees them; ENOSYS so that
      // programs fall back to epoll and plain I/O, as under Docker.
      {"io_uring_setup", ENOSYS, -1},
      {"io_uring_enter", ENOSYS, -1},
      {"io_uring_register", ENOSYS, -1},
  };
  return calls;
}

namespace {

// The host's user namespace maps every id to itself, whole.
bool in_host_user_namespace() {
  std::ifstream map("/proc/self/uid_map");
  unsigned long inside = 1, outside = 1, count = 0;
  return map >> inside >> outside >> count && inside == 0 && outside == 0 && count == 4294967295UL;
}

using FilterContext = std::unique_ptr<void, decltype(&::seccomp_release)>;

void check(int result, const std::string& call) {
  if (result < 0) throw_system_error(call, -result);
}

// A filter that allows what no rule names, on x86-64 and the 32-bit entry points (x86, x32),
// without no_new_privs (setuid programs in the CT must still gain their privileges).
FilterContext new_filter(std::uint32_t other_architectures) {
  FilterContext filter(::seccomp_init(SCMP_ACT_ALLOW), &::seccomp_release);
  if (!filter) throw std::runtime_error("seccomp_init failed");
  check(::seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set(no_new_privs off)");
  check(::seccomp_attr_set(filter.get(), SCMP_FLTATR_ACT_BADARCH, other_architectures),
        "seccomp_attr_set(other architectures)");
  for (const std::uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
    const int added = ::seccomp_arch_add(filter.get(), arch);
    if (added != -EEXIST) check(added, "seccomp_arch_add");
  }
  return filter;
}

// The calls the host answers for the CT (ubc/ct_call_service.h), handed to the listener.
void notify_served_calls(void* filter, bool serve_quota) {
  check(::seccomp_rule_add(filter, SCMP_ACT_NOTIFY, SCMP_SYS(sysinfo), 0), "seccomp_rule_add(sysinfo: notify)");
  if (!serve_quota) return;
  check(::seccomp_rule_add(filter, SCMP_ACT_NOTIFY, SCMP_SYS(quotactl), 0), "seccomp_rule_add(quotactl: notify)");
  check(::seccomp_rule_add(filter, SCMP_ACT_NOTIFY, SCMP_SYS(quotactl_fd), 0), "seccomp_rule_add(quotactl_fd: notify)");
}

}  // namespace

UniqueFd install_ct_filter(CapabilitySet granted, bool supervised) {
  const FilterContext filter = new_filter(SCMP_ACT_KILL_PROCESS);
  // The second-level quota's calls, served on the CT's own ids: only a CT with a user
  // namespace has ids no other CT has (ubc/ct_quota_calls.h).
  const bool serve_quota = supervised && !in_host_user_namespace();
  const auto served = [serve_quota](const std::string& name) {
    return serve_quota && (name == "quotactl" || name == "quotactl_fd");
  };
  for (const auto& call : refused_calls()) {
    if (call.unless_capability >= 0 && has_capability(granted, call.unless_capability)) continue;
    if (served(call.name)) continue;
    const int number = ::seccomp_syscall_resolve_name(call.name);
    if (number == __NR_SCMP_ERROR) continue;  // not a call of any architecture in the filter
    // A call some of the filter's architectures lack is added where it exists.
    check(::seccomp_rule_add(filter.get(), SCMP_ACT_ERRNO(call.error), number, 0),
          std::string("seccomp_rule_add(") + call.name + ")");
  }
  // A file's project is its CT's disk quota (loader/project_quota.h): a CT must not move its
  // files out of it. The kernel refuses a project change from a user namespace; this holds
  // it for a CT without one (other extended flags set this way go with it). Masked: the
  // kernel reads the command as 32 bits, whatever the upper half of the register holds.
  auto refuse_ioctl = [&](unsigned long command, const char* name) {
    check(::seccomp_rule_add(filter.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffU, command)),
          std::string("seccomp_rule_add(ioctl ") + name + ")");
  };
  refuse_ioctl(FS_IOC_FSSETXATTR, "FS_IOC_FSSETXATTR");
  // And its inherit flag: cleared on a directory, what is made there later is no project's.
  // The kernel refuses that change from a user namespace; in the host's (a CT without one of
  // its own) the flags call goes whole, chattr with it.
  if (in_host_user_namespace()) {
    refuse_ioctl(FS_IOC_SETFLAGS, "FS_IOC_SETFLAGS");
    refuse_ioctl(FS_IOC32_SETFLAGS, "FS_IOC32_SETFLAGS");
  }
  if (supervised) notify_served_calls(filter.get(), serve_quota);
  check(::seccomp_load(filter.get()), "seccomp_load");
  if (!supervised) return UniqueFd();
  const int listener = ::seccomp_notify_fd(filter.get());
  if (listener < 0) throw_system_error("seccomp_notify_fd", -listener);
  return UniqueFd(listener);
}

std::vector<sock_filter> served_calls_program(bool serve_quota) {
  // Another architecture is the CT's own filter's to refuse.
  const FilterContext filter = new_filter(SCMP_ACT_ALLOW);
  notify_served_calls(filter.get(), serve_quota);
  // Exported through a memory file: libseccomp 2.5 (Debian 12) writes a program to an fd only.
  const UniqueFd memory(::memfd_create("ubc-seccomp-program", MFD_CLOEXEC));
  if (!memory) throw_system_error("memfd_create");
  check(::seccomp_export_bpf(filter.get(), memory.get()), "seccomp_export_bpf");
  const off_t size = ::lseek(memory.get(), 0, SEEK_END);
  if (size < 0) throw_system_error("lseek(the exported seccomp program)");
  if (size == 0 || size % static_cast<off_t>(sizeof(sock_filter)))
    throw std::runtime_error("seccomp_export_bpf wrote " + std::to_string(size) + " bytes, not whole instructions");
  std::vector<sock_filter> program(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(memory.get(), program.data(), static_cast<std::size_t>(size), 0) != size)
    throw_system_error("pread(the exported seccomp program)");
  return program;
}

int load_notifying_program(const std::vector<sock_filter>& program) noexcept {
  sock_fprog loaded{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  return static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &loaded));
}

}  // namespace ubc::seccomp
