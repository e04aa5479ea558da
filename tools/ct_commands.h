// ubcctl's container verbs (vzctl's and vzlist's): what each prints and returns, apart from
// the option parsing in ubcctl.cpp.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ubc/containers.h"
#include "ubc/userns_ranges.h"

namespace ubc::cli {

// vzlist: CTID NPROC STATUS IP_ADDR HOSTNAME by default; `fields` picks columns (ctid,
// nproc, status, ip, hostname, or any beancounter name with .m .b .l .f for maxheld,
// barrier, limit, failcnt); `all` includes stopped CTs.
int list(Host& host, Containers& containers, const std::vector<std::string>& fields, bool all, bool json);
// vzctl status: "CTID 101 exist mounted running", then the CT's capabilities (the running
// CT's, else those its next start gives).
int status(Containers& containers, const std::string& ctid);
// vzquota stat: the CT's disk use, limits and grace, as its filesystem counts them.
int quota(Host& host, Containers& containers, const std::string& ctid);
// Starts one CT, warning on stderr when it runs without /proc/user_beancounters inside.
void start(Containers& containers, const std::string& ctid, bool force = false);
// Throws, naming the running CTs and what they would lose, unless none runs or `force`.
void refuse_unload_with_running_cts(Containers& containers, bool force);
// Starts every CT whose config says ONBOOT="yes" and that is not running.
int start_all(Host& host, Containers& containers);
// Runs one command in every running CT, each one's output under a "CT <id>:" header.
int exec_all(Host& host, Containers& containers, const std::vector<std::string>& command);
}  // namespace ubc::cli
