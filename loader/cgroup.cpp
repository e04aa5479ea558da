#include "loader/cgroup.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>

#include "loader/error.h"
#include "loader/mountinfo.h"
#include "loader/unique_fd.h"

namespace ubc::cgroup {
namespace fs = std::filesystem;

std::optional<fs::path> find_v2_mount() {
  for (const auto& mount : read_mountinfo())
    if (mount.fstype == "cgroup2") return mount.mount_point;
  return std::nullopt;
}

std::string v2_mount_options(const fs::path& mount_point) {
  std::string options;
  // The last mount on the point is the one paths resolve to.
  for (const auto& mount : read_mountinfo())
    if (mount.fstype == "cgroup2" && mount.mount_point == mount_point) options = mount.super_options;
  return options;
}

bool has_nsdelegate(const fs::path& mount_point) {
  std::istringstream options(v2_mount_options(mount_point));
  for (std::string option; std::getline(options, option, ',');)
    if (option == "nsdelegate") return true;
  return false;
}

bool ensure_nsdelegate(const fs::path& mount_point) {
  if (has_nsdelegate(mount_point)) return false;
  // cgroup2's remount resets every flag it is not given: keep the ones it has.
  std::string options = "nsdelegate";
  std::istringstream current(v2_mount_options(mount_point));
  for (std::string option; std::getline(current, option, ',');)
    if (option != "rw" && option != "ro") options += "," + option;
  if (::mount(nullptr, mount_point.c_str(), nullptr, MS_REMOUNT, options.c_str()))
    throw_system_error("mount(" + mount_point.string() + ", remount " + options +
                       "): without nsdelegate a CT could write its own cgroup limits; mount cgroup2 with "
                       "-o nsdelegate from the host's initial namespaces");
  if (!has_nsdelegate(mount_point))
    throw std::runtime_error("remounting " + mount_point.string() + " with nsdelegate did not take");
  return true;
}

std::uint64_t id_of(const fs::path& cgroup) {
  struct stat st {};
  if (::stat(cgroup.c_str(), &st)) throw_system_error("stat(" + cgroup.string() + ")");
  return st.st_ino;
}

// A kernel file's whole text with plain reads: no stream machinery, which costs more than
// the read itself where thousands of small files are read (a full read of many CTs).
std::optional<std::string> read_if_exists(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      errno = error;
      return std::nullopt;
    }
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return text;
}

std::string read_file(const fs::path& file) {
  auto text = read_if_exists(file);
  if (!text) throw_system_error("open(" + file.string() + ")");
  return std::move(*text);
}

std::string first_line(const fs::path& file) {
  const auto text = read_if_exists(file);
  if (!text) return {};
  return text->substr(0, text->find('\n'));
}

void write_file(const fs::path& file, const std::string& text) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_system_error("open(" + file.string() + ")");
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw_system_error("write(" + file.string() + ")");
}

namespace {

bool event_set(const fs::path& cgroup, std::string_view name) {
  std::istringstream events(read_file(cgroup / "cgroup.events"));
  std::string key;
  int value;
  while (events >> key >> value)
    if (key == name) return value != 0;
  return false;
}

}  // namespace

bool is_populated(const fs::path& cgroup) {
  return event_set(cgroup, "populated");
}

bool is_frozen(const fs::path& cgroup) {
  return event_set(cgroup, "frozen");
}

void set_frozen(const fs::path& cgroup, bool frozen, int timeout_ms) {
  write_file(cgroup / "cgroup.freeze", frozen ? "1" : "0");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (is_frozen(cgroup) != frozen) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(std::string("the tasks of ") + cgroup.string() + " did not " +
                               (frozen ? "freeze" : "thaw") + " within " + std::to_string(timeout_ms) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
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

void reset_subtree(const fs::path& cgroup) {
  for (const auto& entry : fs::directory_iterator(cgroup))
    if (entry.is_directory()) remove_tree(entry.path());
  std::istringstream enabled(read_file(cgroup / "cgroup.subtree_control"));
  for (std::string controller; enabled >> controller;) write_file(cgroup / "cgroup.subtree_control", "-" + controller);
}

void delegate(const fs::path& cgroup, uid_t uid, gid_t gid) {
  for (const fs::path& path :
       {cgroup / "cgroup.procs", cgroup / "cgroup.threads", cgroup / "cgroup.subtree_control", cgroup})
    if (::chown(path.c_str(), uid, gid)) throw_system_error("chown(" + path.string() + ")");
}

void remove_tree(const fs::path& cgroup) {
  for (const auto& entry : fs::directory_iterator(cgroup))
    if (entry.is_directory()) remove_tree(entry.path());
  if (::rmdir(cgroup.c_str())) throw_system_error("rmdir(" + cgroup.string() + ")");
}

namespace {

// The state letter of /proc/TID/stat (its third field), or 0 when the thread is gone.
char thread_state(const std::string& tid) {
  const std::string path = "/proc/" + tid + "/stat";
  const UniqueFd stat(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!stat) return 0;
  char text[512];
  const ssize_t got = ::read(stat.get(), text, sizeof text - 1);
  if (got <= 0) return 0;
  const std::string_view fields(text, static_cast<std::size_t>(got));
  const auto name_end = fields.rfind(')');  // the command name may hold ')' itself
  return name_end == std::string_view::npos || name_end + 2 >= fields.size() ? 0 : fields[name_end + 2];
}

// Calls `visit` with each thread id of `cgroup` and of every cgroup below it.
void for_each_thread(const fs::path& cgroup, const std::function<void(const std::string&)>& visit) {
  auto threads_of = [&](const fs::path& dir) {
    std::ifstream threads(dir / "cgroup.threads");
    for (std::string tid; threads >> tid;) visit(tid);
  };
  threads_of(cgroup);
  std::error_code error;
  for (fs::recursive_directory_iterator below(cgroup, error), end; !error && below != end; below.increment(error))
    if (below->is_directory(error)) threads_of(below->path());
}

}  // namespace

TaskStates read_task_states(const fs::path& cgroup) {
  TaskStates states;
  for_each_thread(cgroup, [&](const std::string& tid) {
    const char state = thread_state(tid);
    if (state == 0) return;
    ++states.total;
    if (state == 'R') ++states.running;
    if (state == 'D') ++states.uninterruptible;
  });
  return states;
}

unsigned count_threads(const fs::path& cgroup) {
  unsigned threads = 0;
  for_each_thread(cgroup, [&](const std::string&) { ++threads; });
  return threads;
}

}  // namespace ubc::cgroup
