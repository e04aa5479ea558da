// What a CT's /proc view holds (loader/proc_view.h has the mounts): its root directory,
// the files the view renders itself (user_beancounters, and the CT's own meminfo, stat,
// cpuinfo ...: ubc/proc_files.h), the real procfs at .procfs, and a symlink into it for
// every other name of that procfs. The FUSE glue is tools/ubc-procfs.cpp; this part knows
// nothing of FUSE and is tested on its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loader/unique_fd.h"

namespace ubc {

class ProcView {
 public:
  enum class Kind { directory, file, symlink };
  struct Node {
    std::uint64_t inode;
    Kind kind;
    unsigned mode;  // permission bits
    // How long the kernel may keep the name and the attributes, in seconds.
    double entry_timeout;
    double attribute_timeout;
    // A symlink whose target depends on who looks it up (self, thread-self): a new lookup
    // at every path walk, which gives each reader the inode of its own target.
    bool reader_dependent = false;
    // A served file whose every open reads its own rendering, around the page cache.
    bool direct_io = false;
  };
  struct Entry {
    std::string name;
    Kind kind;
  };

  // A thread as the CT's pid namespace numbers it.
  struct CtThread {
    pid_t process;
    pid_t thread;
  };
  // The CT's numbers for the thread the kernel named `tid` (FUSE names callers in the
  // host's pid namespace), if it lives in the CT's pid namespace.
  using ThreadResolver = std::function<std::optional<CtThread>(pid_t tid)>;

  static constexpr std::uint64_t kRoot = 1;

  // A file the view renders itself at each open, in place of the real procfs's of that
  // name, or beside them.
  struct ServedFile {
    std::string name;
    unsigned mode;  // permission bits
    std::function<std::string()> render;
    // Its length without rendering it, where that is known (user_beancounters' rows have
    // fixed widths). Otherwise the view reports a bound (size_hint) and the file is read
    // without the page cache (Node::direct_io): the kernel asks for the size at every
    // lookup and stat, and splices (sendfile) through the page cache up to it.
    std::function<std::size_t()> exact_size;
  };
  // `procfs`: the root of the CT's real procfs, or none until attach_procfs. At most
  // kMaxServedFiles files.
  ProcView(UniqueFd procfs, std::vector<ServedFile> files, ThreadResolver resolve);
  // A restored CT's procfs exists only once CRIU has mounted it on the view's .procfs: until
  // then the view has its served files and .procfs, and no other name.
  void attach_procfs(UniqueFd procfs) { procfs_ = std::move(procfs); }
  static constexpr std::size_t kMaxServedFiles = 10;

  // The node `name` in the root as the thread `caller_tid` (as FUSE names it) sees it,
  // counted as one more kernel reference to it. Every symlink's inode stands for one
  // target, fixed for its life, so that the kernel may cache what it reads: self and
  // thread-self give each caller the inode of its own target (its pid as the CT numbers
  // it, as procfs says), every other name the inode of `.procfs/NAME`.
  std::optional<Node> lookup(const std::string& name, pid_t caller_tid);
  std::optional<Node> node(std::uint64_t inode) const;
  // The kernel dropped `count` references to `inode`.
  void forget(std::uint64_t inode, std::uint64_t count);
  std::optional<std::string> link_target(std::uint64_t inode) const;
  // The root's entries: the served files procfs has not (user_beancounters; not those
  // whose name starts with a dot), then every name of the real procfs (a file where the
  // view serves it, else a symlink).
  std::vector<Entry> list() const;
  // A served file's text now. Throws std::out_of_range for any other node.
  std::string render(std::uint64_t inode);
  // A served file's size as stat and lookup report it: exact where known, else at least
  // the length of any rendering soon (twice the last one, whole pages): a read stops at
  // the true end, which FUSE learns at the first short read.
  std::size_t size_hint(std::uint64_t inode);

  // Symlinks the kernel holds now (for tests: forget must free them).
  std::size_t names_held() const { return links_.size(); }

 private:
  struct Served {
    ServedFile file;
    std::size_t last_size = 0;  // of the last rendering, 0 before the first
  };
  Served& served(std::uint64_t inode);
  const Served* served_named(const std::string& name) const;

  UniqueFd procfs_;
  std::vector<Served> files_;
  ThreadResolver resolve_;
  // A symlink the kernel holds: by its target, and whether it is a reader's self.
  using LinkKey = std::pair<std::string, bool>;
  struct Link {
    std::uint64_t inode;
    std::uint64_t lookups;
  };
  std::optional<Node> link_to(const std::string& target, bool reader_dependent);
  std::map<LinkKey, Link> links_;
  std::map<std::uint64_t, LinkKey> link_of_;
  std::uint64_t next_inode_;
};

}  // namespace ubc
