// The mounts of this process's mount namespace, as /proc/self/mountinfo lists them: the one
// place that reads that file (the cgroup2 mount, its options, what is mounted in a tree).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ubc {

struct MountEntry {
  std::filesystem::path mount_point;  // unescaped (mountinfo writes spaces as \040)
  std::string fstype;
  std::string source;             // unescaped, e.g. "/dev/vda1" (what the mount table names)
  std::string super_options;      // e.g. "rw,nsdelegate"
  unsigned major = 0, minor = 0;  // st_dev of the filesystem's files
};

// In mountinfo's order: a later entry on the same point is mounted over an earlier one.
std::vector<MountEntry> read_mountinfo();
// Parses mountinfo's text (for tests).
std::vector<MountEntry> parse_mountinfo(const std::string& text);

}  // namespace ubc
