// The /proc view's names, on a directory standing in for a CT's procfs.
#include "ubc/proc_view.h"

#include <doctest/doctest.h>
#include <fcntl.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using ubc::ProcView;

namespace {

struct FakeProcfs {
  FakeProcfs() : dir(fs::temp_directory_path() / ("ubc-fake-procfs-" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir / "1");
    std::ofstream(dir / "meminfo") << "MemTotal: 1 kB\n";
    fs::create_symlink("1", dir / "self");
  }
  ~FakeProcfs() { fs::remove_all(dir); }
  ubc::UniqueFd open() const { return ubc::UniqueFd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)); }
  fs::path dir;
};

// Host tid 4242 is thread 42 of process 40 in the CT; any other caller is outside it.
std::optional<ProcView::CtThread> resolve(pid_t tid) {
  if (tid == 4242) return ProcView::CtThread{40, 42};
  return std::nullopt;
}

}  // namespace

std::vector<ProcView::ServedFile> beancounters_only() {
  return {{"user_beancounters", 0400, [] { return std::string("Version: 2.5\n"); }, [] { return std::size_t{13}; }}};
}

TEST_CASE("the view's root: user_beancounters, the real procfs, and a symlink for every other name") {
  FakeProcfs procfs;
  ProcView view(procfs.open(), beancounters_only(), resolve);

  const auto beancounters = view.lookup("user_beancounters", 4242);
  REQUIRE(beancounters);
  CHECK(beancounters->kind == ProcView::Kind::file);
  CHECK(beancounters->mode == 0400);  // root only, as OpenVZ's
  CHECK_FALSE(beancounters->direct_io);
  CHECK(view.render(beancounters->inode) == "Version: 2.5\n");
  CHECK(view.size_hint(beancounters->inode) == view.render(beancounters->inode).size());

  const auto real = view.lookup(".procfs", 4242);
  REQUIRE(real);
  CHECK(real->kind == ProcView::Kind::directory);

  const auto meminfo = view.lookup("meminfo", 4242);
  REQUIRE(meminfo);
  CHECK(meminfo->kind == ProcView::Kind::symlink);
  CHECK(view.link_target(meminfo->inode) == ".procfs/meminfo");
  CHECK(view.lookup("1", 4242)->inode != meminfo->inode);
  CHECK_FALSE(view.lookup("missing", 4242));
  CHECK_FALSE(view.lookup("..", 4242));

  const auto names = view.list();
  CHECK(names.front().name == "user_beancounters");
  for (const char* name : {"1", "meminfo", "self"})
    CHECK(std::any_of(names.begin(), names.end(), [&](const auto& entry) { return entry.name == name; }));
  CHECK(std::none_of(names.begin(), names.end(), [](const auto& entry) { return entry.name == "."; }));
}

TEST_CASE("self and thread-self name the reader as its CT numbers it, each target an inode of its own") {
  FakeProcfs procfs;
  ProcView view(procfs.open(), beancounters_only(), resolve);
  const auto self = view.lookup("self", 4242);
  const auto thread_self = view.lookup("thread-self", 4242);
  REQUIRE(self);
  REQUIRE(thread_self);
  CHECK(view.link_target(self->inode) == "40");
  CHECK(view.link_target(thread_self->inode) == "40/task/42");
  // Looked up anew at every walk (the kernel caches a symlink's target by inode).
  CHECK(self->entry_timeout == 0);
  CHECK(self->attribute_timeout == 0);
  CHECK(self->reader_dependent);
  // The same reader gets the same inode; a reader outside the CT's pid namespace gets
  // procfs's own answer, on another inode.
  CHECK(view.lookup("self", 4242)->inode == self->inode);
  const auto outside = view.lookup("self", 7);
  REQUIRE(outside);
  CHECK(outside->inode != self->inode);
  CHECK(view.link_target(outside->inode) == ".procfs/self");
  CHECK(view.link_target(view.lookup("self", 0)->inode) == ".procfs/self");
  // procfs's own name "self" is never a plain name of the view: no inode of a real name
  // shares a reader's target.
  CHECK_FALSE(view.lookup("meminfo", 4242)->reader_dependent);
  CHECK(view.lookup("1", 7)->inode == view.lookup("1", 4242)->inode);
}

TEST_CASE("a name lives while the kernel holds it, and is freed when it forgets it") {
  FakeProcfs procfs;
  ProcView view(procfs.open(), beancounters_only(), resolve);
  const auto first = view.lookup("meminfo", 4242);
  const auto second = view.lookup("meminfo", 4242);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->inode == second->inode);
  CHECK(view.names_held() == 1);
  view.forget(first->inode, 1);
  CHECK(view.node(first->inode));
  view.forget(first->inode, 1);
  CHECK(view.names_held() == 0);
  CHECK_FALSE(view.node(first->inode));
  CHECK_FALSE(view.link_target(first->inode));
  view.forget(ProcView::kRoot, 5);  // fixed nodes ignore it
  CHECK(view.node(ProcView::kRoot));
}

TEST_CASE("a file the view serves in place of procfs's: rendered at each open, its size a bound") {
  FakeProcfs procfs;
  std::string text = "MemTotal: 2 kB\n";
  auto files = beancounters_only();
  files.push_back({"meminfo", 0444, [&text] { return text; }, {}});
  ProcView view(procfs.open(), std::move(files), resolve);

  const auto meminfo = view.lookup("meminfo", 4242);
  REQUIRE(meminfo);
  CHECK(meminfo->kind == ProcView::Kind::file);
  CHECK(meminfo->mode == 0444);
  CHECK(meminfo->direct_io);
  CHECK(meminfo->entry_timeout == 0);  // looked up at every open: the bound is set again
  CHECK(view.render(meminfo->inode) == text);
  // The bound covers any text up to twice the last one.
  CHECK(view.size_hint(meminfo->inode) >= 2 * text.size());
  text = std::string(5000, 'x');
  view.render(meminfo->inode);
  CHECK(view.size_hint(meminfo->inode) >= 10000);
  CHECK(view.size_hint(meminfo->inode) % 4096 == 0);

  // Listed once, as a file; procfs's other names stay symlinks.
  const auto names = view.list();
  CHECK(std::count_if(names.begin(), names.end(), [](const auto& entry) { return entry.name == "meminfo"; }) == 1);
  for (const auto& entry : names) {
    if (entry.name == "meminfo") CHECK(entry.kind == ProcView::Kind::file);
    if (entry.name == "1") CHECK(entry.kind == ProcView::Kind::symlink);
  }
  CHECK_THROWS_AS(view.render(view.lookup("1", 4242)->inode), std::out_of_range);
}

TEST_CASE("a served file whose name starts with a dot is found but not listed") {
  FakeProcfs procfs;
  auto files = beancounters_only();
  files.push_back({".cpu_online", 0444, [] { return std::string("0\n"); }, {}});
  ProcView view(procfs.open(), std::move(files), resolve);
  REQUIRE(view.lookup(".cpu_online", 4242));
  const auto names = view.list();
  CHECK(std::none_of(names.begin(), names.end(), [](const auto& entry) { return entry.name == ".cpu_online"; }));
}
