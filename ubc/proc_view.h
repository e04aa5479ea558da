// What a CT's /proc view holds (loader/proc_view.h has the mounts): its root directory,
// user_beancounters rendered for the reader's CT, the real procfs at .procfs, and a symlink
// into it for every other name of that procfs. The FUSE glue is tools/ubc-procfs.cpp; this
// part knows nothing of FUSE and is tested on its own.
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
    // A symlink whose target depends on who reads it (self, thread-self): its size is 0, as
    // procfs says, rather than one reader's answer worked out at every lookup.
    bool reader_dependent = false;
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
  static constexpr const char* kBeancountersName = "user_beancounters";

  // `procfs`: the root of the CT's real procfs. `render`: the user_beancounters text;
  // `size`: its length, known without reading any counter (the table's rows have fixed
  // widths), since the kernel asks for it at every stat and lookup.
  struct Beancounters {
    std::function<std::string()> render;
    std::function<std::size_t()> size;
  };
  ProcView(UniqueFd procfs, Beancounters beancounters, ThreadResolver resolve);

  // The node `name` in the root, counted as one more kernel reference to it.
  std::optional<Node> lookup(const std::string& name);
  std::optional<Node> node(std::uint64_t inode) const;
  // The kernel dropped `count` references to `inode`.
  void forget(std::uint64_t inode, std::uint64_t count);
  // A symlink's target for the thread `caller_tid` (as FUSE names it): self and
  // thread-self name the caller as procfs does.
  std::optional<std::string> link_target(std::uint64_t inode, pid_t caller_tid) const;
  // The root's entries: user_beancounters, then every name of the real procfs.
  std::vector<Entry> list() const;
  std::string beancounters() const { return beancounters_.render(); }
  std::size_t beancounters_size() const { return beancounters_.size(); }

  // Names the kernel holds now (for tests: forget must free them).
  std::size_t names_held() const { return names_.size(); }

 private:
  UniqueFd procfs_;
  Beancounters beancounters_;
  ThreadResolver resolve_;
  struct Name {
    std::uint64_t inode;
    std::uint64_t lookups;
  };
  std::map<std::string, Name> names_;  // the real procfs's names the kernel knows
  std::map<std::uint64_t, std::string> name_of_;
  std::uint64_t next_inode_;
};

}  // namespace ubc
