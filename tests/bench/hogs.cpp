#include "hogs.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "loader/error.h"

namespace ubc::bench {

namespace {

std::int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

bool read_exact(int fd, void* buffer, size_t size) {
  auto* bytes = static_cast<char*>(buffer);
  while (size > 0) {
    const ssize_t got = ::read(fd, bytes, size);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    bytes += got;
    size -= static_cast<size_t>(got);
  }
  return true;
}

// The child: async-signal-safe calls only between fork and _exit.
[[noreturn]] void be_a_hog(const HogSpec& spec, const std::string& procs, int start_fd, int result_fd) {
  if (!procs.empty()) {
    const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(2);
    ::close(fd);
  }
  if (::setpriority(PRIO_PROCESS, 0, spec.nice) != 0) ::_exit(3);
  if (spec.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(spec.cpu, &set);
    if (::sched_setaffinity(0, sizeof(set), &set) != 0) ::_exit(4);
  }
  std::int64_t deadline = 0;
  if (!read_exact(start_fd, &deadline, sizeof(deadline))) ::_exit(5);
  while (monotonic_ns() < deadline) {
  }
  timespec used{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
  const double seconds = static_cast<double>(used.tv_sec) + static_cast<double>(used.tv_nsec) / 1e9;
  ::_exit(::write(result_fd, &seconds, sizeof(seconds)) == sizeof(seconds) ? 0 : 6);
}

}  // namespace

HogRace::~HogRace() {
  for (const Hog& hog : hogs_) ::kill(hog.pid, SIGKILL);
  for (const Hog& hog : hogs_) ::waitpid(hog.pid, nullptr, 0);
}

void HogRace::add(const HogSpec& spec) {
  if (!start_read_) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC)) throw_system_error("pipe2(start)");
    start_read_.reset(fds[0]);
    start_write_.reset(fds[1]);
  }
  int result[2];
  if (::pipe2(result, O_CLOEXEC)) throw_system_error("pipe2(result)");
  UniqueFd result_read(result[0]), result_write(result[1]);
  const std::string procs = spec.cgroup.empty() ? "" : (spec.cgroup / "cgroup.procs").string();
  const pid_t pid = ::fork();
  if (pid < 0) throw_system_error("fork(hog)");
  if (pid == 0) {
    start_write_.reset();
    be_a_hog(spec, procs, start_read_.get(), result_write.get());
  }
  hogs_.push_back(Hog{spec, pid, std::move(result_read)});
}

std::vector<HogResult> HogRace::run(std::chrono::milliseconds duration) {
  const std::int64_t deadline = monotonic_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
  for (size_t i = 0; i < hogs_.size(); ++i)
    if (::write(start_write_.get(), &deadline, sizeof(deadline)) != sizeof(deadline))
      throw_system_error("write(start)");
  std::this_thread::sleep_for(duration);
  std::vector<HogResult> results;
  for (Hog& hog : hogs_) {
    HogResult result{hog.spec, 0};
    const bool reported = read_exact(hog.result.get(), &result.cpu_seconds, sizeof(result.cpu_seconds));
    int status = 0;
    ::waitpid(hog.pid, &status, 0);
    if (!reported || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("a CPU hog failed (exit status " + std::to_string(WEXITSTATUS(status)) +
                               "; 2: joining " + hog.spec.cgroup.string() + ", 3: nice, 4: affinity)");
    results.push_back(result);
  }
  hogs_.clear();
  start_read_.reset();
  start_write_.reset();
  return results;
}

double group_seconds(const std::vector<HogResult>& results, int group) {
  double total = 0;
  for (const HogResult& result : results)
    if (result.spec.group == group) total += result.cpu_seconds;
  return total;
}

}  // namespace ubc::bench
