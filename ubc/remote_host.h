// Another ubc host reached over SSH, as vzmigrate reached its destination: root there runs
// that host's ubcctl. The commands are argv vectors; ssh joins them into one remote shell
// line, so each word is quoted for that shell here.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace ubc {

// `word` as one word of a POSIX shell's command line.
std::string shell_quote(const std::string& word);

struct RemoteRun {
  int status = 0;
  std::string output;  // stdout and stderr
};

class RemoteHost {
 public:
  // `destination`: [user@]host as ssh takes it; `ssh_options`: extra ssh arguments (-p 2222,
  // -i KEY, -o ...). ssh never prompts (BatchMode): a command with no terminal must not hang.
  RemoteHost(std::string destination, std::vector<std::string> ssh_options);
  // Ends the shared connection, if one was opened.
  ~RemoteHost();
  RemoteHost(const RemoteHost&) = delete;
  RemoteHost& operator=(const RemoteHost&) = delete;

  // Opens one connection that every command after it shares (ssh's ControlMaster): each
  // new connection's key exchange costs about a second in a slow guest, and the frozen part
  // of an online migration makes several. Throws with what ssh said when it cannot connect.
  void connect();

  const std::string& name() const { return destination_; }
  // The local argv that runs `remote_argv` there.
  std::vector<std::string> ssh_argv(const std::vector<std::string>& remote_argv) const;
  // Runs it with `input` on its stdin; what it printed.
  RemoteRun run(const std::vector<std::string>& remote_argv, const std::string& input = "") const;
  // The same, throwing with what it printed when it does not exit 0.
  std::string run_or_throw(const std::vector<std::string>& remote_argv, const std::string& input = "") const;
  // `local_argv`'s stdout fed to `remote_argv`'s stdin (tar to tar); throws when either fails.
  void run_fed_by(const std::vector<std::string>& local_argv, const std::vector<std::string>& remote_argv) const;
  // The local argv that makes `remote_dir` there a copy of `local_dir` (rsync over the same
  // ssh): a second pass sends only what changed since the first. `remote_rsync`: the
  // command line there that stands for rsync (--rsync-path), empty for rsync itself.
  std::vector<std::string> rsync_argv(const std::string& local_dir, const std::string& remote_dir,
                                      const std::string& remote_rsync = "") const;

 private:
  // ssh's own options: no prompt; the shared connection once there is one.
  std::vector<std::string> ssh_base() const;

  std::string destination_;
  std::vector<std::string> ssh_options_;
  std::filesystem::path control_dir_;  // the shared connection's socket, in a directory of its own
  pid_t master_ = -1;                  // the ssh that holds it, a child of ubcctl (dies with it)
};

}  // namespace ubc
