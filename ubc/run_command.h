// Running the host's own tools (ip, tar, cp) from the engine, optionally inside a running
// CT's network namespace: their exit status, and an error naming the command when they fail.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace ubc {

// Runs argv (PATH search) and waits; in the network namespace of `netns_of_pid` if it is
// not 0. Returns the exit status (128+N if killed by N).
int run_command(const std::vector<std::string>& argv, pid_t netns_of_pid = 0);

// Runs argv (as run_command) in a mount namespace of its own where `tree` follows no symlink
// (MS_NOSYMFOLLOW; readlink still reads them, symlink still makes them) and holds no setuid
// or device node that works. A path into the tree stays in it: a directory a running CT
// swaps for a symlink to a host path between a lookup and the next leads nowhere (ELOOP),
// and so does a link the copy itself made, for what writes there.
enum class TreeView { read_only, writable };
int run_command_in_tree_view(const std::vector<std::string>& argv, const std::filesystem::path& tree, TreeView access);

// The same as run_command, throwing std::runtime_error with the command line when it does not exit 0.
void run_or_throw(const std::vector<std::string>& argv, pid_t netns_of_pid = 0);

// Whether `program` is an executable file in PATH: a step that needs a tool is refused
// before anything is changed, not half-way.
bool on_path(const std::string& program);

}  // namespace ubc
