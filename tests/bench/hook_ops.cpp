#include "tests/bench/hook_ops.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace ubc::bench {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& call) {
  throw std::system_error(errno, std::generic_category(), call);
}

void close_or_fail(int fd) {
  if (::close(fd)) fail("close");
}

}  // namespace

std::vector<HookOperation> hook_operations(const fs::path& scratch) {
  const std::string file = (scratch / "open-close").string();
  std::ofstream(file) << "x";
  // Kept open for the process's life: flock needs a file, and its open is not what is timed.
  const int lock_fd = ::open((scratch / "flock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) fail("open(" + (scratch / "flock").string() + ")");
  return {
      {"open+close",
       [file] {
         const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
         if (fd < 0) fail("open(" + file + ")");
         close_or_fail(fd);
       }},
      {"pipe+close",
       [] {
         int fds[2];
         if (::pipe2(fds, O_CLOEXEC)) fail("pipe2");
         close_or_fail(fds[0]);
         close_or_fail(fds[1]);
       }},
      {"AF_UNIX socket+close",
       [] {
         const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
         if (fd < 0) fail("socket(AF_UNIX)");
         close_or_fail(fd);
       }},
      {"flock+unlock",
       [lock_fd] {
         if (::flock(lock_fd, LOCK_EX)) fail("flock(LOCK_EX)");
         if (::flock(lock_fd, LOCK_UN)) fail("flock(LOCK_UN)");
       }},
      {"fork+exit+wait",
       [] {
         const pid_t child = ::fork();
         if (child < 0) fail("fork");
         if (child == 0) ::_exit(0);
         int status = 0;
         if (::waitpid(child, &status, 0) != child) fail("waitpid");
       }},
  };
}

std::vector<double> micros_per_call_in_cgroup(const fs::path& cgroup, const fs::path& scratch, int calls,
                                              std::optional<std::size_t> only) {
  const std::size_t count = only ? 1 : hook_operations(scratch).size();
  int results[2];
  if (::pipe2(results, O_CLOEXEC)) fail("pipe2");
  const pid_t child = ::fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    ::close(results[0]);
    try {
      std::ofstream(cgroup / "cgroup.procs") << ::getpid() << std::flush;
      auto operations = hook_operations(scratch);
      if (only) operations = {operations.at(*only)};
      for (const auto& operation : operations) {
        for (int i = calls; i < calls_with_warm_up(calls); ++i) operation.once();  // warm caches first
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) operation.once();
        const double micros =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / calls;
        if (::write(results[1], &micros, sizeof micros) != sizeof micros) ::_exit(2);
      }
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubc-scale-bench: in %s: %s\n", cgroup.c_str(), error.what());
      ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(results[1]);
  std::vector<double> micros(count);
  const std::size_t wanted = count * sizeof(double);
  std::size_t got = 0;
  for (ssize_t part;
       got < wanted && (part = ::read(results[0], reinterpret_cast<char*>(micros.data()) + got, wanted - got)) > 0;)
    got += static_cast<std::size_t>(part);
  ::close(results[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (got != wanted || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the measuring process in " + cgroup.string() + " failed");
  return micros;
}

}  // namespace ubc::bench
