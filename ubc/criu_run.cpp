// Running CRIU from ubcctl: under a process that outlives ubcctl (it waits for CRIU, relays
// its log and finishes what a dump leaves), its errors read back from the log.
#include "ubc/criu_run.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "loader/cgroup.h"
#include "loader/child_process.h"
#include "loader/error.h"
#include "loader/fd_passing.h"
#include "loader/namespaces.h"
#include "loader/notified_call.h"
#include "loader/seccomp_policy.h"
#include "loader/unique_fd.h"
#include "ubc/freeze_hold.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

// What CRIU's log says went wrong: its last error lines.
std::string criu_errors(const fs::path& log) {
  std::ifstream in(log);
  std::vector<std::string> errors;
  for (std::string line; std::getline(in, line);)
    if (line.find("Error") != std::string::npos) errors.push_back(line);
  std::string said;
  for (std::size_t i = errors.size() > 3 ? errors.size() - 3 : 0; i < errors.size(); ++i)
    said += (said.empty() ? "" : "; ") + errors[i];
  return (said.empty() ? "no error line" : said) + " (whole log: " + log.string() + ")";
}

// CRIU's log (its -o) through a pipe that the process waiting for CRIU writes to the file:
// a restore's CRIU runs in the CT's cgroup, and a dump's parasite writes its lines from
// inside each CT task, so the pages of a log they wrote themselves would stay charged to the
// CT after it (shmpages when the checkpoint is on tmpfs, physpages on a disk). The waiter
// outlives ubcctl: no writer ever meets a pipe without a reader (a parasite's SIGPIPE would
// be its CT task's, pending, and saved with it).
class CriuLogRelay {
 public:
  explicit CriuLogRelay(const fs::path& log) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC)) throw_system_error("pipe2");
    read_.reset(ends[0]);
    write_.reset(ends[1]);
    file_.reset(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!file_) throw_system_error("open(" + log.string() + ")");
  }
  ~CriuLogRelay() { finish(); }
  CriuLogRelay(const CriuLogRelay&) = delete;
  CriuLogRelay& operator=(const CriuLogRelay&) = delete;

  // The pipe's end CRIU writes, and the path CRIU opens it by (in the child, once this fd
  // is kept open across the exec).
  int write_end() const { return write_.get(); }
  std::string path() const { return "/proc/self/fd/" + std::to_string(write_.get()); }
  // Once CRIU is forked (a fork with no other thread running: the child's execvp may
  // allocate): CRIU's copy of the write end is the only one left, and the copy begins.
  void start() {
    write_.reset();
    copier_ = std::thread([this] { copy(); });
  }
  // Once CRIU ended: what it wrote is in the file. A restored task that kept the pipe open
  // (CRIU closes it in them) would not hold this up: what is there is read, then no more.
  void finish() {
    if (!copier_.joinable()) return;
    done_ = true;
    copier_.join();
  }

 private:
  void copy() {
    char buffer[65536];
    for (;;) {
      pollfd ready{read_.get(), POLLIN, 0};
      const int polled = ::poll(&ready, 1, 100);
      if (polled == 0 || (polled < 0 && errno == EINTR)) {
        if (done_) return;
        continue;
      }
      if (polled < 0) return;
      const ssize_t n = ::read(read_.get(), buffer, sizeof buffer);
      if (n == 0) return;  // every writer closed it
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      // What the file cannot take (a full disk) is dropped: CRIU must never wait for it.
      for (ssize_t sent = 0; sent < n && file_;) {
        const ssize_t w = ::write(file_.get(), buffer + sent, static_cast<std::size_t>(n - sent));
        if (w <= 0) {
          file_.reset();
          break;
        }
        sent += w;
      }
    }
  }

  UniqueFd read_, write_, file_;
  std::atomic<bool> done_{false};
  std::thread copier_;
};

// The restore's call filter's listener while CRIU runs (CriuCallFilter): CRIU's own calls
// (from this pid namespace) run as if unfiltered, any other fails with ENOSYS. Nothing
// may hold a call: a task of CRIU's waiting for an answer would hold up the restore.
class CallsWhileCriuRuns {
 public:
  explicit CallsWhileCriuRuns(UniqueFd listener) : listener_(std::move(listener)) {
    if (listener_) answerer_ = std::thread([this] { answer(); });
  }
  ~CallsWhileCriuRuns() { finish(); }
  CallsWhileCriuRuns(const CallsWhileCriuRuns&) = delete;
  CallsWhileCriuRuns& operator=(const CallsWhileCriuRuns&) = delete;

  // Once CRIU ended: the listener, no longer read here.
  UniqueFd finish() {
    if (answerer_.joinable()) {
      done_ = true;
      answerer_.join();
    }
    return std::move(listener_);
  }

 private:
  void answer() {
    while (!done_) {
      pollfd ready{listener_.get(), POLLIN, 0};
      if (::poll(&ready, 1, 100) <= 0 || !(ready.revents & POLLIN)) continue;
      auto call = NotifiedCall::receive(listener_.get());
      if (!call) continue;
      if (ns::shares_our_namespace(call->thread(), "pid").value_or(false) && call->still_waiting())
        call->answer_continue();
      else
        call->answer_error(ENOSYS);
    }
  }

  UniqueFd listener_;
  std::atomic<bool> done_{false};
  std::thread answerer_;
};

// What ubcctl would do after CRIU, done by the process that waited for it.
void finish_after_criu(const AfterCriu& after, bool succeeded) {
  std::error_code ignored;
  if (succeeded && !after.publish_from.empty()) fs::rename(after.publish_from, after.publish_to, ignored);
  const fs::path& thaw = succeeded ? after.thaw_if_succeeded : after.thaw_if_failed;
  if (!thaw.empty()) {
    // Should it fail, nobody is left to tell: `ubcctl status` shows the CT suspended.
    const UniqueFd freeze(::open((thaw / "cgroup.freeze").c_str(), O_WRONLY | O_CLOEXEC));
    if (freeze) [[maybe_unused]]
      const ssize_t written = ::write(freeze.get(), "0", 1);
  }
  // The freeze is settled: ubcctl's hold on it, which this process shares, ends here.
  release_held(after.freeze_hold);
}

// The process between ubcctl and CRIU (forked while ubcctl has no other thread): in a
// session of its own, it starts CRIU, relays its log into `log`, waits for it and does what
// `after` asks. Returns CRIU's exit status.
int wait_for_criu(std::vector<std::string> args, const fs::path& log, const std::string& cgroup_procs, int inherited,
                  const AfterCriu& after, const CriuCallFilter* call_filter) noexcept {
  try {
    ::setsid();
    CriuLogRelay relay(log);
    args.insert(args.end(), {"-o", relay.path()});
    const int log_fd = relay.write_end();
    // The call filter's listener comes back from CRIU's child on this pair, before its exec.
    UniqueFd listener_here, listener_there;
    if (call_filter) {
      int ends[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends)) throw_system_error("socketpair");
      listener_here.reset(ends[0]);
      listener_there.reset(ends[1]);
    }
    const pid_t criu = spawn_program(
        args,
        [&]() -> const char* {
          if (!cgroup_procs.empty() && cgroup::enter_from_child(cgroup_procs.c_str())) return cgroup_procs.c_str();
          if ((inherited >= 0 && ::fcntl(inherited, F_SETFD, 0)) || ::fcntl(log_fd, F_SETFD, 0))
            return "keeping its descriptors open";
          if (call_filter) {
            const int listener = seccomp::load_notifying_program(call_filter->program);
            if (listener < 0) return "seccomp(the CT's served calls, with a listener)";
            const bool sent = try_send_fd(listener_there.get(), listener);
            ::close(listener);
            if (!sent) return "sendmsg(the seccomp listener)";
          }
          const int null = ::open("/dev/null", O_RDWR);
          if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(null, 1) < 0 || ::dup2(null, 2) < 0) return "/dev/null";
          return nullptr;
        },
        OnParentDeath::live_on);
    relay.start();
    // CRIU's copy closed at its exec: the listener is here, or CRIU never started.
    listener_there.reset();
    CallsWhileCriuRuns calls(call_filter ? receive_fd(listener_here.get()) : UniqueFd());
    const int status = wait_for_exit(criu);
    relay.finish();
    const UniqueFd listener = calls.finish();
    if (listener && status == 0) try_send_fd(call_filter->listener_to, listener.get());
    finish_after_criu(after, status == 0);
    return status;
  } catch (...) {
    return 126;
  }
}

}  // namespace

void run_criu(const std::vector<std::string>& args, const fs::path& log, const std::string& cgroup_procs, int inherited,
              const AfterCriu& after, const CriuCallFilter* call_filter) {
  // CRIU lives on if ubcctl dies, and so does what waits for it: a dump or restore cut
  // short would leave the CT half-way.
  const pid_t waiter = ::fork();
  if (waiter < 0) throw_system_error("fork");
  if (waiter == 0) ::_exit(wait_for_criu(args, log, cgroup_procs, inherited, after, call_filter));
  const int status = wait_for_exit(waiter);
  if (status == 127) throw std::runtime_error("criu is not installed (apt install criu)");
  if (status != 0)
    throw std::runtime_error("criu " + args[1] + " failed (exit " + std::to_string(status) + "): " + criu_errors(log));
}

}  // namespace ubc
