#include "loader/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "loader/error.h"
#include "loader/unique_fd.h"

namespace ubc::cgroup {
namespace fs = std::filesystem;

std::optional<fs::path> find_v2_mount() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    // ... mount-point ... - fstype source options
    const auto separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream tail(line.substr(separator + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, separator));
    std::string id, parent, device, root, mount_point;
    head >> id >> parent >> device >> root >> mount_point;
    return fs::path(mount_point);
  }
  return std::nullopt;
}

std::uint64_t id_of(const fs::path& cgroup) {
  struct stat st {};
  if (::stat(cgroup.c_str(), &st)) throw_system_error("stat(" + cgroup.string() + ")");
  return st.st_ino;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw_system_error("open(" + file.string() + ")");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& file, const std::string& text) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_system_error("open(" + file.string() + ")");
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw_system_error("write(" + file.string() + ")");
}

bool is_populated(const fs::path& cgroup) {
  std::istringstream events(read_file(cgroup / "cgroup.events"));
  std::string key;
  int value;
  while (events >> key >> value)
    if (key == "populated") return value != 0;
  return false;
}

std::vector<pid_t> member_pids(const fs::path& cgroup) {
  std::istringstream procs(read_file(cgroup / "cgroup.procs"));
  std::vector<pid_t> pids;
  for (pid_t pid; procs >> pid;) pids.push_back(pid);
  return pids;
}

int enter_from_child(const char* cgroup_procs_path) noexcept {
  int fd = ::open(cgroup_procs_path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const ssize_t written = ::write(fd, "0", 1);
  ::close(fd);
  return written == 1 ? 0 : -1;
}

void kill_all(const fs::path& cgroup, int timeout_ms) {
  if (!is_populated(cgroup)) return;
  write_file(cgroup / "cgroup.kill", "1");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (is_populated(cgroup)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("processes of " + cgroup.string() + " did not exit within " +
                               std::to_string(timeout_ms) + " ms of SIGKILL");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void remove_tree(const fs::path& cgroup) {
  for (const auto& entry : fs::directory_iterator(cgroup))
    if (entry.is_directory()) remove_tree(entry.path());
  if (::rmdir(cgroup.c_str())) throw_system_error("rmdir(" + cgroup.string() + ")");
}

}  // namespace ubc::cgroup
