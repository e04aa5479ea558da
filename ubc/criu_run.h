// Running CRIU from ubcctl (the arguments are ubc/criu_commands.h's): in the CT's cgroup
// for a restore, its log written by ubcctl, its failure an error with CRIU's own words.
#pragma once

#include <linux/filter.h>

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
  int freeze_hold = -1;                            // a FreezeHold's holder_fd (ubc/freeze_hold.h), released once done
};

// A restore's seccomp filter over CRIU (loader/seccomp_policy.h's served_calls_program):
// CRIU loads it on itself before it starts, so every task it restores runs under it, and
// its listener is sent on `listener_to` once CRIU has ended, for the CT's /proc view server.
// Until then the process waiting for CRIU answers those calls: CRIU's own (from the host's
// pid namespace) run as if unfiltered; the rest (CRIU's work inside the CT's pid namespace,
// a restored task before its server) fail with ENOSYS, as with no listener, and never get
// the host's figures.
struct CriuCallFilter {
  std::vector<sock_filter> program;
  int listener_to = -1;
};

// Runs CRIU and waits: in the cgroup of `cgroup_procs` if given (a restore: what it makes
// is the CT's), with `inherited` (-1: none) open across the exec, its log in `log`, from a
// session of its own (a Ctrl-C meant for ubcctl never reaches it mid-dump). Throws with
// CRIU's errors.
void run_criu(const std::vector<std::string>& args, const std::filesystem::path& log, const std::string& cgroup_procs,
              int inherited, const AfterCriu& after = {}, const CriuCallFilter* call_filter = nullptr);

}  // namespace ubc
