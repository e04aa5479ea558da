// What a hostile CT root tries, one attempt per command, each printing one line: the
// escape tests (tests/kernel/isolation_test.cpp) run it inside CTs and read the verdicts.
//
//   probe PATH...         how each PATH is masked, one line each: "missing", "null" (/dev/null
//                         bound over it), "empty-ro" (an empty read-only directory), "ro", "rw"
//   write PATH TEXT       open PATH for writing and write TEXT     -> "ok" or the errno's name
//   umount PATH           umount2(PATH, MNT_DETACH)                -> "ok" or the errno's name
//   nested-umount PATH    the same from a new user and mount namespace (unshare -Urm)
//   nested-remount PATH   clear read-only on PATH from a new user and mount namespace
//   nested-cgroup FILE V  from new user, mount and cgroup namespaces, mount cgroup2 and write
//                         V into FILE of the CT's own cgroup      -> "ok" or "STEP ERRNO"
//   realtime              sched_setscheduler(SCHED_FIFO, 1)        -> "ok" or the errno's name
//   mknod PATH            a character node 1:3 at PATH             -> "ok" or the errno's name
//   handle PATH           name_to_handle_at(PATH) then open_by_handle_at -> "ok" or "STEP ERRNO"
//   syscall NR...         each system call NR with every argument 0 -> "NR ok|ERRNO" per call
//   sysinfo               sysinfo(2)   -> "uptime=S totalram=B freeram=B procs=N loads=A,B,C"
//   sysinfo-at ADDRESS    sysinfo(2) into that address (a bad one) -> "ok" or the errno's name
//   setproject PATH ID    move PATH to quota project ID (FS_IOC_FSSETXATTR), as upper
//                         register bits set too -> "ok" or the errno's name
//   noinherit DIR         clear DIR's project inherit flag (FS_IOC_SETFLAGS) -> "ok" or the errno's name
//   quota PATH            read project 0's quota (quotactl_fd)    -> "ok" or the errno's name
//   quotactl u|g|p WHAT ID ON
//                         one quota call of type u, g or p on id ID: WHAT is get, limit (set
//                         limits 1:1), usage (set the usage figures), off (Q_QUOTAOFF),
//                         grace (Q_SETINFO); ON a /dev node names it as quotactl's special,
//                         any other path is opened for quotactl_fd  -> "ok" or the errno's name
//   reread PATH SECONDS   open, read whole and close PATH as fast as it can for SECONDS, to
//                         make whoever serves PATH work           -> the number of reads
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/quota.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr long kTmpfsMagic = 0x01021994;

std::string verdict(bool ok) {
  return ok ? "ok" : strerrorname_np(errno);
}

std::string quota_call(const std::string& type_name, const std::string& what, std::uint32_t id, const char* on) {
  const int type = type_name == "u" ? USRQUOTA : type_name == "g" ? GRPQUOTA : PRJQUOTA;
  if_dqblk block{};
  if_dqinfo info{};
  int command = Q_GETQUOTA;
  void* data = &block;
  if (what == "limit") {
    command = Q_SETQUOTA;
    block.dqb_bsoftlimit = block.dqb_bhardlimit = 1;
    block.dqb_valid = QIF_BLIMITS;
  } else if (what == "usage") {
    command = Q_SETQUOTA;
    block.dqb_valid = QIF_USAGE;
  } else if (what == "off") {
    command = Q_QUOTAOFF;
    data = nullptr;
  } else if (what == "grace") {
    command = Q_SETINFO;
    info.dqi_bgrace = 1;
    info.dqi_valid = IIF_BGRACE;
    data = &info;
  }
  if (std::string(on).starts_with("/dev/"))
    return verdict(::quotactl(QCMD(command, type), on, static_cast<int>(id), static_cast<char*>(data)) == 0);
  const int fd = ::open(on, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("open ") + strerrorname_np(errno);
  return verdict(::syscall(SYS_quotactl_fd, fd, QCMD(command, type), id, data) == 0);
}

std::string probe(const char* path) {
  struct stat info {};
  if (::stat(path, &info)) return errno == ENOENT ? "missing" : strerrorname_np(errno);
  if (S_ISCHR(info.st_mode) && major(info.st_rdev) == 1 && minor(info.st_rdev) == 3) return "null";
  struct statvfs mount {};
  if (::statvfs(path, &mount)) return strerrorname_np(errno);
  const bool read_only = mount.f_flag & ST_RDONLY;
  if (S_ISDIR(info.st_mode)) {
    struct statfs fs {};
    ::statfs(path, &fs);
    int entries = 0;
    if (DIR* dir = ::opendir(path)) {
      while (const dirent* entry = ::readdir(dir))
        if (std::strcmp(entry->d_name, ".") && std::strcmp(entry->d_name, "..")) ++entries;
      ::closedir(dir);
    }
    if (fs.f_type == kTmpfsMagic && entries == 0 && read_only) return "empty-ro";
  }
  return read_only ? "ro" : "rw";
}

bool write_text(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return written;
}

// unshare -Ur: a new user namespace where this process is root, and `more` namespaces.
bool become_nested_root(int more) {
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | more)) return false;
  return write_text("/proc/self/setgroups", "deny") &&
         write_text("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
         write_text("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

std::string nested_cgroup(const char* file, const char* value) {
  if (!become_nested_root(CLONE_NEWNS | CLONE_NEWCGROUP)) return std::string("unshare ") + strerrorname_np(errno);
  ::mkdir("/tmp/ubc-escape-cgroup", 0700);
  if (::mount("none", "/tmp/ubc-escape-cgroup", "cgroup2", 0, nullptr))
    return std::string("mount ") + strerrorname_np(errno);
  const std::string target = std::string("/tmp/ubc-escape-cgroup/") + file;
  if (!write_text(target.c_str(), value)) return std::string("write ") + strerrorname_np(errno);
  return "ok";
}

std::string handle(const char* path) {
  std::vector<char> buffer(sizeof(file_handle) + MAX_HANDLE_SZ);
  auto* handle = reinterpret_cast<file_handle*>(buffer.data());
  handle->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (::name_to_handle_at(AT_FDCWD, path, handle, &mount_id, 0))
    return std::string("name_to_handle_at ") + strerrorname_np(errno);
  const int fd = ::open_by_handle_at(AT_FDCWD, handle, O_RDONLY);
  if (fd < 0) return std::string("open_by_handle_at ") + strerrorname_np(errno);
  ::close(fd);
  return "ok";
}

// Reads PATH whole, again and again, for `seconds`; returns how many times, or -1.
long reread(const char* path, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  char buffer[65536];
  long reads = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    while (::read(fd, buffer, sizeof buffer) > 0) {
    }
    ::close(fd);
    ++reads;
  }
  return reads;
}

// Each way of asking: the plain command, and with bits above the 32 the kernel reads (a
// filter that compared all 64 would let it through).
std::string set_project(const char* path, unsigned project) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("open ") + strerrorname_np(errno);
  fsxattr attributes{};
  if (::ioctl(fd, FS_IOC_FSGETXATTR, &attributes) != 0) return std::string("get ") + strerrorname_np(errno);
  attributes.fsx_projid = project;
  for (const unsigned long command :
       {static_cast<unsigned long>(FS_IOC_FSSETXATTR), static_cast<unsigned long>(FS_IOC_FSSETXATTR) | (1UL << 40)}) {
    if (::syscall(SYS_ioctl, fd, command, &attributes) == 0) return "ok";
  }
  return strerrorname_np(errno);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ubc-escape COMMAND [ARG]... (see the source)\n");
    return 2;
  }
  const std::string command = argv[1];
  auto arg = [&](int index) -> const char* {
    if (index >= argc) {
      std::fprintf(stderr, "ubc-escape %s: missing argument\n", command.c_str());
      std::exit(2);
    }
    return argv[index];
  };
  std::string result;
  if (command == "probe") {
    for (int index = 2; index < argc; ++index) std::printf("%s\n", probe(argv[index]).c_str());
    return 0;
  } else if (command == "write") {
    result = verdict(write_text(arg(2), arg(3)));
  } else if (command == "umount") {
    result = verdict(::umount2(arg(2), MNT_DETACH) == 0);
  } else if (command == "nested-umount") {
    result = become_nested_root(CLONE_NEWNS) ? verdict(::umount2(arg(2), MNT_DETACH) == 0)
                                             : std::string("unshare ") + strerrorname_np(errno);
  } else if (command == "nested-remount") {
    mount_attr attr{};
    attr.attr_clr = MOUNT_ATTR_RDONLY;
    result = become_nested_root(CLONE_NEWNS) ? verdict(::mount_setattr(AT_FDCWD, arg(2), 0, &attr, sizeof attr) == 0)
                                             : std::string("unshare ") + strerrorname_np(errno);
  } else if (command == "nested-cgroup") {
    result = nested_cgroup(arg(2), arg(3));
  } else if (command == "realtime") {
    const sched_param param{1};
    result = verdict(::sched_setscheduler(0, SCHED_FIFO, &param) == 0);
  } else if (command == "mknod") {
    result = verdict(::mknod(arg(2), S_IFCHR | 0600, makedev(1, 3)) == 0);
  } else if (command == "handle") {
    result = handle(arg(2));
  } else if (command == "reread") {
    const long reads = reread(arg(2), std::strtod(arg(3), nullptr));
    result = reads < 0 ? std::string("open ") + strerrorname_np(errno) : std::to_string(reads);
  } else if (command == "sysinfo") {
    struct sysinfo info {};
    if (::sysinfo(&info)) {
      result = strerrorname_np(errno);
    } else {
      char line[256];
      std::snprintf(line, sizeof line, "uptime=%ld totalram=%lu freeram=%lu procs=%u loads=%lu,%lu,%lu", info.uptime,
                    info.totalram * info.mem_unit, info.freeram * info.mem_unit, info.procs, info.loads[0],
                    info.loads[1], info.loads[2]);
      result = line;
    }
  } else if (command == "sysinfo-at") {
    const auto address = static_cast<std::uintptr_t>(std::strtoull(arg(2), nullptr, 0));
    result = verdict(::syscall(SYS_sysinfo, address) == 0);
  } else if (command == "setproject") {
    result = set_project(arg(2), static_cast<unsigned>(std::strtoul(arg(3), nullptr, 10)));
  } else if (command == "noinherit") {
    const int fd = ::open(arg(2), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int flags = 0;
    if (fd < 0 || ::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
      result = std::string("get ") + strerrorname_np(errno);
    } else {
      flags &= ~FS_PROJINHERIT_FL;
      result = verdict(::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0);
    }
  } else if (command == "quota") {
    const int fd = ::open(arg(2), O_RDONLY | O_CLOEXEC);
    if_dqblk block{};
    result = fd < 0 ? std::string("open ") + strerrorname_np(errno)
                    : verdict(::syscall(SYS_quotactl_fd, fd, QCMD(Q_GETQUOTA, PRJQUOTA), 0, &block) == 0);
  } else if (command == "quotactl") {
    result = quota_call(arg(2), arg(3), static_cast<std::uint32_t>(std::strtoul(arg(4), nullptr, 10)), arg(5));
  } else if (command == "syscall") {
    for (int index = 2; index < argc; ++index) {
      const long number = std::strtol(argv[index], nullptr, 10);
      errno = 0;
      const long returned = ::syscall(number, 0, 0, 0, 0, 0, 0);
      std::printf("%ld %s\n", number, returned < 0 ? strerrorname_np(errno) : "ok");
    }
    return 0;
  } else {
    std::fprintf(stderr, "ubc-escape: unknown command '%s'\n", command.c_str());
    return 2;
  }
  std::printf("%s\n", result.c_str());
  return 0;
}
