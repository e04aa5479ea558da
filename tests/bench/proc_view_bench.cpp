// ubc-procview-bench: what a CT's /proc view (docs/CONTAINERS.md) costs a reader, measured
// side by side in one run inside one CT: the same reads through the view (/proc/...) and
// straight from the CT's procfs under it (/proc/.procfs/...). Run it as root on a host
// where ubc runs CTs, e.g. in the bundled VM: tools/ubc-vm -- ubc-procview-bench
//
// Without --inside it makes a busybox CT (ubc-mkrootfs, ubcctl, with procps' ps and top),
// runs itself inside it with --inside, times ps aux and top -bn1 in it through the view and
// on plain procfs, and destroys the CT.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void read_whole(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
  char buffer[8192];
  while (::read(fd, buffer, sizeof buffer) > 0) {
  }
  ::close(fd);
}

void list(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) {
    std::perror(path.c_str());
    std::exit(1);
  }
  while (::readdir(dir)) {
  }
  ::closedir(dir);
}

// Microseconds per call of `operation`, the median of `batches` batches of `calls`.
double micros_per_call(const std::function<void()>& operation, int calls, std::vector<double>& batches) {
  const auto start = Clock::now();
  for (int i = 0; i < calls; ++i) operation();
  batches.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / calls);
  std::vector<double> sorted = batches;
  std::sort(sorted.begin(), sorted.end());
  return sorted[sorted.size() / 2];
}

struct Pair {
  const char* what;
  std::function<void()> through_view;
  std::function<void()> direct;  // empty: nothing to compare with
};

int inside(int calls, int batches) {
  const std::vector<Pair> pairs = {
      {"read /proc/self/stat", [] { read_whole("/proc/self/stat"); }, [] { read_whole("/proc/.procfs/self/stat"); }},
      {"read /proc/meminfo", [] { read_whole("/proc/meminfo"); }, [] { read_whole("/proc/.procfs/meminfo"); }},
      {"read /proc/1/status", [] { read_whole("/proc/1/status"); }, [] { read_whole("/proc/.procfs/1/status"); }},
      {"list /proc", [] { list("/proc"); }, [] { list("/proc/.procfs"); }},
      {"read /proc/user_beancounters", [] { read_whole("/proc/user_beancounters"); }, {}},
  };
  std::printf("%-30s %14s %14s %8s\n", "operation", "view us/op", "procfs us/op", "ratio");
  for (const auto& pair : pairs) {
    std::vector<double> view_batches, direct_batches;
    double view = 0, direct = 0;
    for (int batch = 0; batch < batches; ++batch) {  // interleaved: drift hits both alike
      view = micros_per_call(pair.through_view, calls, view_batches);
      if (pair.direct) direct = micros_per_call(pair.direct, calls, direct_batches);
    }
    if (pair.direct)
      std::printf("%-30s %14.1f %14.1f %7.2fx\n", pair.what, view, direct, view / direct);
    else
      std::printf("%-30s %14.1f %14s %8s\n", pair.what, view, "-", "-");
  }
  return 0;
}

// Milliseconds `command` takes, run `times` over by the CT's own sh inside the running CT
// whose init is `init` (host pid): in its user, mount and pid namespaces, as its root, with
// /proc the view, or with `plain_procfs` the CT's procfs bound over it in a mount namespace
// of its own. -1 when it failed.
double time_in_ct(pid_t init, const std::string& command, int times, bool plain_procfs) {
  const std::string loop =
      "i=0; while [ $i -lt " + std::to_string(times) + " ]; do " + command + " >/dev/null || exit 1; i=$((i+1)); done";
  const auto start = Clock::now();
  const pid_t child = ::fork();
  if (child == 0) {
    // All opened first: once in the CT's mount namespace, /proc is the CT's.
    std::vector<int> namespaces;
    for (const char* name : {"user", "mnt", "pid"})
      namespaces.push_back(::open(("/proc/" + std::to_string(init) + "/ns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    for (const int ns : namespaces)
      if (ns < 0 || ::setns(ns, 0)) {
        std::perror("setns (the CT's user, mount and pid namespaces)");
        ::_exit(126);
      }
    if (::setresgid(0, 0, 0) || ::setresuid(0, 0, 0)) ::_exit(126);
    if (plain_procfs && (::unshare(CLONE_NEWNS) || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) ||
                         ::mount("/proc/.procfs", "/proc", nullptr, MS_BIND | MS_REC, nullptr))) {
      std::perror("binding the CT's procfs on /proc");
      ::_exit(126);
    }
    const char* environment[] = {"PATH=/bin:/sbin:/usr/bin", "TERM=dumb", "HOME=/root", nullptr};
    ::execle("/bin/sh", "sh", "-c", loop.c_str(), nullptr, environment);
    ::_exit(127);
  }
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// ps aux and top -bn1 as the CT's users run them, through the view and on plain procfs,
// interleaved in `batches` (the median of each kept).
void time_tools(const std::string& ct, int batches) {
  const char* run_dir = std::getenv("UBC_RUN_DIR");
  std::ifstream pid_file(fs::path(run_dir && *run_dir ? run_dir : "/run/ubc") / (ct + ".pid"));
  pid_t init = 0;
  if (!(pid_file >> init)) {
    std::fprintf(stderr, "ubc-procview-bench: no pid file for CT %s\n", ct.c_str());
    return;
  }
  constexpr int kRuns = 10;
  std::printf("\n%-30s %14s %14s %8s\n", "command (10 runs, 55 processes)", "view ms", "procfs ms", "ratio");
  for (const char* command : {"ps aux", "top -bn1"}) {
    std::vector<double> view, direct;
    for (int batch = 0; batch < batches; ++batch) {
      view.push_back(time_in_ct(init, command, kRuns, false));
      direct.push_back(time_in_ct(init, command, kRuns, true));
    }
    std::sort(view.begin(), view.end());
    std::sort(direct.begin(), direct.end());
    const double view_ms = view[view.size() / 2], direct_ms = direct[direct.size() / 2];
    if (view.front() < 0 || direct.front() < 0)
      std::printf("%-30s %14s %14s %8s\n", command, "failed", "failed", "-");
    else
      std::printf("%-30s %14.1f %14.1f %7.2fx\n", command, view_ms, direct_ms, view_ms / direct_ms);
  }
}

int run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int outside(int calls, int batches) {
  const fs::path bin = fs::read_symlink("/proc/self/exe").parent_path();
  const std::string ubcctl = (bin / "ubcctl").string();
  const std::string ct = "procview-bench";
  const fs::path root = fs::temp_directory_path() / ("ubc-rootfs-" + ct);
  fs::remove_all(root);
  if (run((bin / "ubc-mkrootfs").string() + " " + root.string() + " " + (bin / "ubc-procview-bench").string() +
          " ps top >/dev/null") != 0)
    return 1;
  // top -b sets up the "dumb" terminal: its terminfo entry, where this host's ncurses looks.
  for (const char* terminfo : {"/usr/lib/terminfo/d/dumb", "/lib/terminfo/d/dumb", "/usr/share/terminfo/d/dumb"})
    if (fs::exists(terminfo)) {
      fs::create_directories(root / fs::path(terminfo).relative_path().parent_path());
      fs::copy_file(terminfo, root / fs::path(terminfo).relative_path(), fs::copy_options::overwrite_existing);
    }
  run(ubcctl + " destroy --force " + ct + " >/dev/null 2>&1");  // a leftover of an interrupted run
  if (run(ubcctl + " create " + ct + " --root " + root.string()) != 0 || run(ubcctl + " start " + ct) != 0) return 1;
  std::printf("CT %s, %d calls per batch, median of %d batches\n", ct.c_str(), calls, batches);
  std::fflush(stdout);
  const int status = run(ubcctl + " exec " + ct + " -- ubc-procview-bench --inside --calls " + std::to_string(calls) +
                         " --batches " + std::to_string(batches));
  // ps and top list every process: give them 50 besides the CT's own few.
  run(ubcctl + " exec " + ct + " -- sh -c 'for i in $(seq 50); do sleep 100000 </dev/null >/dev/null 2>&1 & done'");
  time_tools(ct, batches);
  run(ubcctl + " destroy --force " + ct);
  fs::remove_all(root);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "What a CT's /proc view costs a reader: the same reads through the view and from the CT's "
      "procfs, side by side"};
  bool in_ct = false;
  int calls = 2000, batches = 5;
  app.add_flag("--inside", in_ct, "Measure here (inside a CT started by ubcctl)");
  app.add_option("--calls", calls, "Calls per batch")->check(CLI::PositiveNumber);
  app.add_option("--batches", batches, "Batches per operation (the median is printed)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  return in_ct ? inside(calls, batches) : outside(calls, batches);
}
