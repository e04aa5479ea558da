#include "ubc/proc_view.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <utility>

#include "loader/error.h"
#include "loader/proc_view.h"

namespace ubc {

namespace {

constexpr std::uint64_t kBeancounters = 2;
constexpr std::uint64_t kRealProc = 3;
constexpr std::uint64_t kSelf = 4;
constexpr std::uint64_t kThreadSelf = 5;
constexpr std::uint64_t kFirstNameInode = 16;

// A name of the real procfs keeps its meaning (the target is the name itself), so the
// kernel may cache it; a second bounds how long a vanished pid's name stays in the dcache.
constexpr double kNameTimeout = 1.0;
// The real procfs is mounted on this name: the kernel must never drop it.
constexpr double kMountPointTimeout = 365.0 * 24 * 3600;

std::string real(const std::string& name) {
  return std::string(ns::kRealProcName) + "/" + name;
}

}  // namespace

ProcView::ProcView(UniqueFd procfs, Beancounters beancounters, ThreadResolver resolve)
    : procfs_(std::move(procfs)),
      beancounters_(std::move(beancounters)),
      resolve_(std::move(resolve)),
      next_inode_(kFirstNameInode) {}

std::optional<ProcView::Node> ProcView::node(std::uint64_t inode) const {
  switch (inode) {
    case kRoot:
      return Node{kRoot, Kind::directory, 0555, 0, 1.0};
    case kBeancounters:
      return Node{kBeancounters, Kind::file, 0400, 60.0, 1.0};
    case kRealProc:
      return Node{kRealProc, Kind::directory, 0555, kMountPointTimeout, kMountPointTimeout};
    case kSelf:
    case kThreadSelf:
      return Node{inode, Kind::symlink, 0777, 60.0, 0, true};
    default:
      if (name_of_.contains(inode)) return Node{inode, Kind::symlink, 0777, kNameTimeout, kNameTimeout};
      return std::nullopt;
  }
}

std::optional<ProcView::Node> ProcView::lookup(const std::string& name) {
  if (name == kBeancountersName) return node(kBeancounters);
  if (name == ns::kRealProcName) return node(kRealProc);
  if (name == "self") return node(kSelf);
  if (name == "thread-self") return node(kThreadSelf);
  struct stat info {};
  if (name.empty() || name == "." || name == ".." || ::fstatat(procfs_.get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW))
    return std::nullopt;
  auto [it, added] = names_.try_emplace(name, Name{next_inode_, 0});
  if (added) name_of_.emplace(next_inode_++, name);
  ++it->second.lookups;
  return node(it->second.inode);
}

void ProcView::forget(std::uint64_t inode, std::uint64_t count) {
  const auto name = name_of_.find(inode);
  if (name == name_of_.end()) return;  // a fixed node
  auto& held = names_.at(name->second);
  held.lookups -= std::min(held.lookups, count);
  if (held.lookups == 0) {
    names_.erase(name->second);
    name_of_.erase(name);
  }
}

std::optional<std::string> ProcView::link_target(std::uint64_t inode, pid_t caller_tid) const {
  if (inode == kSelf || inode == kThreadSelf) {
    // A reader outside the CT's pid namespace has no number in it: procfs says so then.
    const auto caller = caller_tid > 0 ? resolve_(caller_tid) : std::nullopt;
    if (!caller) return real(inode == kSelf ? "self" : "thread-self");
    if (inode == kSelf) return std::to_string(caller->process);
    return std::to_string(caller->process) + "/task/" + std::to_string(caller->thread);
  }
  const auto name = name_of_.find(inode);
  if (name == name_of_.end()) return std::nullopt;
  return real(name->second);
}

std::vector<ProcView::Entry> ProcView::list() const {
  std::vector<Entry> entries{{kBeancountersName, Kind::file}};
  const int fd = ::openat(procfs_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_system_error("open(the CT's procfs)");
  struct CloseDir {
    void operator()(DIR* dir) const { ::closedir(dir); }
  };
  std::unique_ptr<DIR, CloseDir> dir(::fdopendir(fd));
  if (!dir) {
    ::close(fd);
    throw_system_error("fdopendir(the CT's procfs)");
  }
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") entries.push_back({name, Kind::symlink});
  }
  return entries;
}

}  // namespace ubc
