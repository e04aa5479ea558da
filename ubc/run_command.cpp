#include "ubc/run_command.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "loader/child_process.h"

namespace ubc {

namespace {

// A step (tar, ip, rsync) dies with ubcctl: it must not go on changing what a killed command
// left, under the feet of the command that repairs or repeats it.
int run_prepared(const std::vector<std::string>& argv, const ChildSetup& setup) {
  return wait_for_exit(spawn_program(argv, setup, OnParentDeath::kill));
}

}  // namespace

int run_command(const std::vector<std::string>& argv, pid_t netns_of_pid) {
  const std::string netns = "/proc/" + std::to_string(netns_of_pid) + "/ns/net";
  return run_prepared(argv, [&]() -> const char* {
    if (!netns_of_pid) return nullptr;
    const int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    return fd < 0 || ::setns(fd, CLONE_NEWNET) ? netns.c_str() : nullptr;
  });
}

int run_command_in_tree_view(const std::vector<std::string>& argv, const std::filesystem::path& tree, TreeView access) {
  const std::string path = tree.string();
  const unsigned long view =
      MS_REMOUNT | MS_BIND | MS_NOSYMFOLLOW | MS_NOSUID | MS_NODEV | (access == TreeView::read_only ? MS_RDONLY : 0);
  return run_prepared(argv, [&]() -> const char* {
    if (::unshare(CLONE_NEWNS)) return "unshare(CLONE_NEWNS)";
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) return "making the mounts private";
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND, nullptr)) return path.c_str();
    if (::mount(nullptr, path.c_str(), nullptr, view, nullptr)) return "remounting it nosymfollow";
    return nullptr;
  });
}

void run_or_throw(const std::vector<std::string>& argv, pid_t netns_of_pid) {
  const int status = run_command(argv, netns_of_pid);
  if (status == 0) return;
  std::string line;
  for (const auto& arg : argv) line += (line.empty() ? "" : " ") + arg;
  throw std::runtime_error("`" + line + "` failed with status " + std::to_string(status));
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const std::size_t colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace ubc
