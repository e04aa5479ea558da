// What a CT's start and its restore from a checkpoint share: its cgroup made ready for a new
// run, its device rules held until the run is sure, its host helpers (the /proc view's
// server, the console keeper) started beside it, and its console pty.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "loader/engine.h"
#include "loader/unique_fd.h"
#include "ubc/ct_console.h"
#include "ubc/ct_settings.h"
#include "ubc/host.h"

namespace ubc {

// Throws, saying why, unless this host's CRIU can dump and restore (doctor's CRIU row).
void require_criu();

// A helper program installed next to the running one (ubcctl and ubc-procfs share a bin/).
std::filesystem::path helper_path(const char* name);

// A CT's host helper: the program, and the cgroup it runs in (Host::helper_cgroup_of).
struct Helper {
  std::filesystem::path program;
  std::filesystem::path cgroup;
};

// Runs `program args... FDS...` in a new session in the helper's cgroup, its stdout and
// stderr on `log`, with `fds` kept open for it; a grandchild, so that it outlives this
// process without a zombie.
void spawn_detached(const Helper& helper, std::vector<std::string> args, std::initializer_list<int> fds, int log);

// The CT's cgroup before a new run: its init (systemd) manages the cgroups below its own,
// under the limits set on it, and what a run that ended without stop left there goes first.
void prepare_ct_cgroup(const std::filesystem::path& cgroup, const CtSettings& ct, unsigned ct_root_id);

// A CT's console: a pty of the host's whose slave is its init's stdin, stdout and stderr and
// its /dev/console, and whose master ubc-console keeps: the last kConsoleBytes in CT.console
// (as many before them in CT.console.1), lent to `ubcctl console`. Where ubc-console is
// missing, init writes into the file itself and the CT has no /dev/console.
struct CtConsole {
  std::filesystem::path file;
  Helper keeper;
  ConsolePty pty;  // empty without a keeper
  UniqueFd plain_file;

  CtConsole(const std::string& ctid, const std::filesystem::path& helper_cgroup, unsigned ct_root_id);
  int output() const { return pty.slave ? pty.slave.get() : plain_file.get(); }
  // Once init exists: its keeper, which ends when init does.
  void keep(const std::string& ctid, pid_t init);
};

// A CT's device rules while its start (or restore) may still fail: removed again unless kept.
class DeviceRulesUntilRunning {
 public:
  DeviceRulesUntilRunning(Host& host, std::string ctid) : host_(host), ctid_(std::move(ctid)) {}
  DeviceRulesUntilRunning(const DeviceRulesUntilRunning&) = delete;
  DeviceRulesUntilRunning& operator=(const DeviceRulesUntilRunning&) = delete;
  ~DeviceRulesUntilRunning();
  void set(const std::vector<Engine::DeviceRule>& rules);
  void keep() { set_ = false; }

 private:
  Host& host_;
  std::string ctid_;
  bool set_ = false;
};

}  // namespace ubc
