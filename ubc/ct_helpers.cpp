#include "ubc/ct_helpers.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "loader/capabilities.h"
#include "loader/cgroup.h"
#include "loader/error.h"
#include "ubc/ct_config.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

// The cgroups a CT may make below its own (systemd: a few per unit and session).
constexpr unsigned kMaxCtCgroups = 1024, kMaxCtCgroupDepth = 16;

// The console's text kept in CT.console (and as much again in CT.console.1).
constexpr unsigned long long kConsoleBytes = 1 << 20;

}  // namespace

fs::path helper_path(const char* name) {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) throw_system_error("readlink(/proc/self/exe)", error.value());
  return self.parent_path() / name;
}

void spawn_detached(const Helper& helper, std::vector<std::string> args, std::initializer_list<int> fds, int log) {
  args.insert(args.begin(), helper.program.string());
  for (int fd : fds) args.push_back(std::to_string(fd));
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string cgroup_procs = (helper.cgroup / "cgroup.procs").string();
  constexpr int kNoSession = 125, kNoCgroup = 126;
  const pid_t child = ::fork();
  if (child < 0) throw_system_error("fork");
  if (child == 0) {
    if (::setsid() < 0) ::_exit(kNoSession);
    if (cgroup::enter_from_child(cgroup_procs.c_str())) ::_exit(kNoCgroup);
    if (const pid_t server = ::fork(); server != 0) ::_exit(server < 0 ? kNoSession : 0);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) ::_exit(127);
    for (int fd : fds)
      if (::fcntl(fd, F_SETFD, 0)) ::_exit(127);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0)
    if (errno != EINTR) throw_system_error("waitpid");
  if (WIFEXITED(status) && WEXITSTATUS(status) == kNoCgroup)
    throw std::runtime_error("starting " + helper.program.string() + ": it could not join " + cgroup_procs);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("starting " + helper.program.string() + ": setsid or fork failed");
}

void prepare_ct_cgroup(const fs::path& cgroup, const CtSettings& ct, unsigned ct_root_id) {
  cgroup::reset_subtree(cgroup);
  if (ct.user_namespace) cgroup::delegate(cgroup, ct_root_id, ct_root_id);
  // However many cgroups it makes, each costs the host's kernel memory and every walk of the
  // tree: bounded, as systemd's own needs are (a few per service) far below.
  cgroup::write_file(cgroup / "cgroup.max.descendants", std::to_string(kMaxCtCgroups));
  cgroup::write_file(cgroup / "cgroup.max.depth", std::to_string(kMaxCtCgroupDepth));
}

CtConsole::CtConsole(const std::string& ctid, const fs::path& helper_cgroup, unsigned ct_root_id)
    : file(run_dir() / (ctid + ".console")), keeper{helper_path("ubc-console"), helper_cgroup} {
  if (fs::exists(keeper.program)) {
    pty = open_console_pty(ct_root_id);
    return;
  }
  plain_file.reset(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!plain_file) throw_system_error("open(" + file.string() + ")");
}

void CtConsole::keep(const std::string& ctid, pid_t init) {
  if (!pty.master) return;
  const UniqueFd init_fd(static_cast<int>(::syscall(SYS_pidfd_open, init, 0)));
  if (!init_fd) throw_system_error("pidfd_open(" + std::to_string(init) + ")");
  const UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  spawn_detached(keeper, {file.string(), std::to_string(kConsoleBytes), console_socket(ctid).string()},
                 {pty.master.get(), init_fd.get()}, null.get());
  pty.master.reset();
}

DeviceRulesUntilRunning::~DeviceRulesUntilRunning() {
  if (!set_) return;
  try {
    host_.clear_device_rules(ctid_);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubcctl: CT %s: removing device rules: %s\n", ctid_.c_str(), error.what());
  }
}

void DeviceRulesUntilRunning::set(const std::vector<Engine::DeviceRule>& rules) {
  host_.set_device_rules(ctid_, rules);
  set_ = true;
}

void require_criu() {
  if (const Capability criu = criu_capability(); !criu.available)
    throw std::runtime_error("CRIU is needed for a checkpoint: " + criu.detail + "; " + criu.consequence);
}

}  // namespace ubc
