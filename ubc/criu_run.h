// Running CRIU from ubcctl (the arguments are ubc/criu_commands.h's): in the CT's cgroup
// for a restore, its log written by ubcctl, its failure an error with CRIU's own words.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ubc {

// Runs CRIU and waits: in the cgroup of `cgroup_procs` if given (a restore: what it makes
// is the CT's), with `inherited` (-1: none) open across the exec, its log in `log`. Throws
// with CRIU's errors.
void run_criu(std::vector<std::string> args, const std::filesystem::path& log, const std::string& cgroup_procs,
              int inherited);

}  // namespace ubc
