#include "ubc/proc_view.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

#include "loader/error.h"
#include "loader/proc_view.h"

namespace ubc {

namespace {

constexpr std::uint64_t kRealProc = 3;
constexpr std::uint64_t kFirstFileInode = 6;
constexpr std::uint64_t kFirstNameInode = kFirstFileInode + ProcView::kMaxServedFiles;
constexpr std::size_t kPage = 4096;

// A name of the real procfs keeps its meaning (the target is the name itself), so the
// kernel may cache it; a second bounds how long a vanished pid's name stays in the dcache.
constexpr double kNameTimeout = 1.0;
// The real procfs is mounted on this name: the kernel must never drop it.
constexpr double kMountPointTimeout = 365.0 * 24 * 3600;

std::string real(const std::string& name) {
  return std::string(ns::kRealProcName) + "/" + name;
}

}  // namespace

ProcView::ProcView(UniqueFd procfs, std::vector<ServedFile> files, ThreadResolver resolve)
    : procfs_(std::move(procfs)), resolve_(std::move(resolve)), next_inode_(kFirstNameInode) {
  if (files.size() > kMaxServedFiles) throw std::invalid_argument("the /proc view serves at most 10 files");
  for (auto& file : files) files_.push_back({std::move(file)});
}

ProcView::Served& ProcView::served(std::uint64_t inode) {
  if (inode < kFirstFileInode || inode >= kFirstFileInode + files_.size())
    throw std::out_of_range("inode " + std::to_string(inode) + " is no file of the /proc view");
  return files_[inode - kFirstFileInode];
}

const ProcView::Served* ProcView::served_named(const std::string& name) const {
  for (const auto& file : files_)
    if (file.file.name == name) return &file;
  return nullptr;
}

std::string ProcView::render(std::uint64_t inode) {
  Served& file = served(inode);
  std::string text = file.file.render();
  file.last_size = text.size();
  return text;
}

std::size_t ProcView::size_hint(std::uint64_t inode) {
  Served& file = served(inode);
  if (file.file.exact_size) return file.file.exact_size();
  if (file.last_size == 0) render(inode);
  return (2 * file.last_size + kPage - 1) / kPage * kPage;
}

std::optional<ProcView::Node> ProcView::node(std::uint64_t inode) const {
  switch (inode) {
    case kRoot:
      return Node{kRoot, Kind::directory, 0555, 0, 1.0};
    case kRealProc:
      return Node{kRealProc, Kind::directory, 0555, kMountPointTimeout, kMountPointTimeout};
    default:
      if (inode >= kFirstFileInode && inode < kFirstFileInode + files_.size()) {
        const ServedFile& file = files_[inode - kFirstFileInode].file;
        // A file of unknown length is looked up at every open, so that the size the
        // kernel holds is the bound again, not the last short read's.
        if (file.exact_size) return Node{inode, Kind::file, file.mode, 60.0, 1.0};
        return Node{inode, Kind::file, file.mode, 0, 0, false, true};
      }
      if (const auto link = link_of_.find(inode); link != link_of_.end()) {
        if (link->second.second) return Node{inode, Kind::symlink, 0777, 0, 0, true};
        return Node{inode, Kind::symlink, 0777, kNameTimeout, kNameTimeout};
      }
      return std::nullopt;
  }
}

std::optional<ProcView::Node> ProcView::lookup(const std::string& name, pid_t caller_tid) {
  for (std::size_t index = 0; index < files_.size(); ++index)
    if (files_[index].file.name == name) return node(kFirstFileInode + index);
  if (name == ns::kRealProcName) return node(kRealProc);
  if (name == "self" || name == "thread-self") {
    // A reader outside the CT's pid namespace has no number in it: procfs says so then.
    const auto caller = caller_tid > 0 ? resolve_(caller_tid) : std::nullopt;
    if (!caller) return link_to(real(name), true);
    if (name == "self") return link_to(std::to_string(caller->process), true);
    return link_to(std::to_string(caller->process) + "/task/" + std::to_string(caller->thread), true);
  }
  struct stat info {};
  if (name.empty() || name == "." || name == ".." || ::fstatat(procfs_.get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW))
    return std::nullopt;
  return link_to(real(name), false);
}

std::optional<ProcView::Node> ProcView::link_to(const std::string& target, bool reader_dependent) {
  auto [it, added] = links_.try_emplace(LinkKey{target, reader_dependent}, Link{next_inode_, 0});
  if (added) link_of_.emplace(next_inode_++, it->first);
  ++it->second.lookups;
  return node(it->second.inode);
}

void ProcView::forget(std::uint64_t inode, std::uint64_t count) {
  const auto link = link_of_.find(inode);
  if (link == link_of_.end()) return;  // a fixed node
  auto& held = links_.at(link->second);
  held.lookups -= std::min(held.lookups, count);
  if (held.lookups == 0) {
    links_.erase(link->second);
    link_of_.erase(link);
  }
}

std::optional<std::string> ProcView::link_target(std::uint64_t inode) const {
  const auto link = link_of_.find(inode);
  if (link == link_of_.end()) return std::nullopt;
  return link->second.first;
}

std::vector<ProcView::Entry> ProcView::list() const {
  std::vector<Entry> entries;
  for (const auto& file : files_) {
    if (file.file.name.starts_with('.')) continue;  // hidden, as .procfs
    struct stat info {};
    if (::fstatat(procfs_.get(), file.file.name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0)
      entries.push_back({file.file.name, Kind::file});
  }
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
    if (name != "." && name != "..") entries.push_back({name, served_named(name) ? Kind::file : Kind::symlink});
  }
  return entries;
}

}  // namespace ubc
