#include "workload.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <thread>

#include "loader/cgroup.h"
#include "loader/error.h"

namespace ubc::test {
namespace fs = std::filesystem;

namespace {
fs::path workload_binary() {
  return fs::read_symlink("/proc/self/exe").parent_path() / "ubc-test-workload";
}
}  // namespace

namespace {
std::optional<Host>& host_instance() {
  static std::optional<Host> instance;
  return instance;
}
}  // namespace

Host& host() {
  if (!host_instance()) host_instance().emplace(HostPaths::discover());
  return *host_instance();
}

void reopen_host() {
  host_instance().reset();
}

ScopedCt::ScopedCt(std::string id) : id_(std::move(id)) {
  host().create(id_);
}

ScopedCt::~ScopedCt() {
  try {
    host().destroy(id_, true);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "destroying test CT %s: %s\n", id_.c_str(), error.what());
  }
}

ubc_counter ScopedCt::counter(ubc_resource resource) const {
  return host().counter(id_, resource);
}

void ScopedCt::set(ubc_resource resource, std::uint64_t barrier, std::uint64_t limit) const {
  host().set_limits(id_, resource, {barrier, limit});
}

std::uint64_t ScopedCt::cgroup_id() const {
  return cgroup::id_of(host().cgroup_of(id_));
}

Workload::Workload(const ScopedCt& ct, int fd3, const std::string& nested_cgroup)
    : Workload(host().cgroup_of(ct.id()) / nested_cgroup, fd3) {}

Workload::Workload(const std::filesystem::path& cgroup, int fd3) {
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) || ::pipe2(from_child, O_CLOEXEC)) throw_system_error("pipe2");
  const std::string procs = (cgroup / "cgroup.procs").string();
  const std::string binary = workload_binary().string();

  pid_ = ::fork();
  if (pid_ < 0) throw_system_error("fork");
  if (pid_ == 0) {
    if (cgroup::enter_from_child(procs.c_str())) ::_exit(126);
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    if (fd3 >= 0) {
      if (fd3 == 3)
        ::fcntl(3, F_SETFD, 0);
      else
        ::dup2(fd3, 3);
    }
    ::execl(binary.c_str(), binary.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  to_child_.reset(to_child[1]);
  from_child_.reset(::fdopen(from_child[0], "r"));
  REQUIRE(read_line() == "ready");
}

Workload::~Workload() {
  if (pid_ > 0) finish();
}

std::string Workload::read_line() {
  char buffer[256];
  if (!std::fgets(buffer, sizeof buffer, from_child_.get())) return "<workload exited>";
  std::string line(buffer);
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

std::vector<long> Workload::ask(const std::string& command) {
  const std::string line = command + "\n";
  REQUIRE(::write(to_child_.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  std::string reply = read_line();
  if (reply == "<workload exited>") reply += " with status " + std::to_string(finish());
  INFO("command: " << command << ", reply: " << reply);
  REQUIRE(reply.starts_with("ok"));
  std::istringstream words(reply.substr(2));
  std::vector<long> numbers;
  for (long n; words >> n;) numbers.push_back(n);
  return numbers;
}

int Workload::finish() {
  to_child_.reset();
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::uint64_t wait_for_held(const ScopedCt& ct, ubc_resource resource, std::uint64_t expected,
                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::uint64_t held = ct.counter(resource).held;
  while (held != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    held = ct.counter(resource).held;
  }
  return held;
}

std::filesystem::path run_dir() {
  return std::getenv("UBC_RUN_DIR");
}

CommandRun ubcctl(const std::string& arguments) {
  const auto binary = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "ubcctl";
  return shell(binary.string() + " " + arguments + " 2>&1");
}

CommandRun shell(const std::string& command) {
  CommandRun run{-1, {}};
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) run.output += buffer;
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace ubc::test
