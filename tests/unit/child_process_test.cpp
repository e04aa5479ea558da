// spawn_program: what a child does between fork and exec, and the statuses a shell would give.
#include "loader/child_process.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "loader/unique_fd.h"

namespace {

struct Pipe {
  ubc::UniqueFd read, write;
};

Pipe make_pipe() {
  int ends[2];
  REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
  return {ubc::UniqueFd(ends[0]), ubc::UniqueFd(ends[1])};
}

// Runs argv after `setup`, its stdout and stderr into one pipe: its status and what it said.
std::pair<int, std::string> run(const std::vector<std::string>& argv, const ubc::ChildSetup& setup) {
  Pipe out = make_pipe();
  const int write_end = out.write.get();
  const pid_t child = ubc::spawn_program(
      argv,
      [&]() -> const char* {
        if (::dup2(write_end, 1) < 0 || ::dup2(write_end, 2) < 0) return "dup2";
        return setup ? setup() : nullptr;
      },
      ubc::OnParentDeath::kill);
  out.write.reset();
  std::string said = ubc::read_until_closed(out.read.get());
  return {ubc::wait_for_exit(child), said};
}

}  // namespace

TEST_CASE("spawn_program runs the setup in the child, then the program") {
  const auto [status, said] =
      run({"sh", "-c", "pwd"}, []() -> const char* { return ::chdir("/") ? "chdir" : nullptr; });
  CHECK(status == 0);
  CHECK(said == "/\n");
  CHECK(run({"sh", "-c", "exit 7"}, nullptr).first == 7);
}

TEST_CASE("spawn_program: a failed setup exits 126 saying what failed; a missing program 127, as a shell") {
  const auto [status, said] = run({"true"}, []() -> const char* {
    errno = EPERM;
    return "entering somewhere";
  });
  CHECK(status == 126);
  CHECK(said.find(": entering somewhere: Operation not permitted") != std::string::npos);
  const auto [missing, why] = run({"/nonexistent/ubc-no-such-program"}, nullptr);
  CHECK(missing == 127);
  CHECK(why.find("/nonexistent/ubc-no-such-program: No such file or directory") != std::string::npos);
  CHECK(run({"/"}, nullptr).first == 126);  // not executable
  CHECK_THROWS_AS(ubc::spawn_program({}, nullptr, ubc::OnParentDeath::kill), std::invalid_argument);
}
