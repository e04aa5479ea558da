// ubc-procview-bench: what a CT's /proc view (docs/CONTAINERS.md) costs a reader, measured
// side by side in one run inside one CT: the same reads through the view (/proc/...) and
// straight from the CT's procfs under it (/proc/.procfs/...). Run it as root on a host
// where ubc runs CTs, e.g. in the bundled VM: tools/ubc-vm -- ubc-procview-bench
//
// Without --inside it makes a busybox CT (ubc-mkrootfs, ubcctl), runs itself inside it with
// --inside, and destroys the CT.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
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
          " >/dev/null") != 0)
    return 1;
  run(ubcctl + " destroy --force " + ct + " >/dev/null 2>&1");  // a leftover of an interrupted run
  if (run(ubcctl + " create " + ct + " --root " + root.string()) != 0 || run(ubcctl + " start " + ct) != 0) return 1;
  std::printf("CT %s, %d calls per batch, median of %d batches\n", ct.c_str(), calls, batches);
  std::fflush(stdout);
  const int status = run(ubcctl + " exec " + ct + " -- ubc-procview-bench --inside --calls " + std::to_string(calls) +
                         " --batches " + std::to_string(batches));
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
