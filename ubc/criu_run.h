// Running CRIU from ubcctl (the arguments are ubc/criu_commands.h's): in the CT's cgroup
// for a restore, its log written by ubcctl, its failure an error with CRIU's own words.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ubc {

// What is done once CRIU ends, by the process that waits for it, which outlives ubcctl: a
// ubcctl killed (or interrupted) during a dump leaves neither a CT frozen for good nor a
// finished dump without ubc's state file.
struct AfterCriu {
  std::filesystem::path publish_from, publish_to;  // renamed once CRIU succeeded (if set)
  std::filesystem::path thaw_if_succeeded;         // a cgroup thawed once CRIU succeeded
  std::filesystem::path thaw_if_failed;            // a cgroup thawed once CRIU failed
};

// Runs CRIU and waits: in the cgroup of `cgroup_procs` if given (a restore: what it makes
// is the CT's), with `inherited` (-1: none) open across the exec, its log in `log`, from a
// session of its own (a Ctrl-C meant for ubcctl never reaches it mid-dump). Throws with
// CRIU's errors.
void run_criu(const std::vector<std::string>& args, const std::filesystem::path& log, const std::string& cgroup_procs,
              int inherited, const AfterCriu& after = {});

}  // namespace ubc
