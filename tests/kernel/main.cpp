// Kernel tests: they load the real BPF engine and drive real processes in real CTs.
// On a kernel that refuses the engine they skip with exit status 77 and say why.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "loader/capabilities.h"
#include "loader/cgroup.h"
#include "workload.h"

int main(int argc, char** argv) {
  const std::string reason = ubc::engine_unavailable_reason();
  if (!reason.empty()) {
    std::fprintf(stderr,
                 "SKIP: the kernel tests need a kernel that loads ubc's BPF engine; this one does not:\n"
                 "  %s\n"
                 "Run them in the bundled VM instead: tools/ubc-vm -- ubc-kernel-tests\n",
                 reason.c_str());
    return 77;
  }
  auto mount = ubc::cgroup::find_v2_mount();
  if (!mount) {
    std::fprintf(stderr, "SKIP: no cgroup v2 hierarchy mounted\n");
    return 77;
  }
  // A private cgroup root and pin directory, so a real engine on this host is untouched.
  setenv("UBC_CGROUP_ROOT", (*mount / "ubc-kernel-tests").c_str(), 1);
  setenv("UBC_PIN_DIR", "/sys/fs/bpf/ubc-kernel-tests", 1);
  const auto config_dir = std::filesystem::temp_directory_path() / "ubc-kernel-tests-conf";
  std::filesystem::remove_all(config_dir);
  setenv("UBC_CONF_DIR", config_dir.c_str(), 1);
  const auto state_dir = std::filesystem::temp_directory_path() / "ubc-kernel-tests-state";
  std::filesystem::remove_all(state_dir);
  setenv("UBC_STATE_DIR", state_dir.c_str(), 1);
  const auto run_dir = std::filesystem::temp_directory_path() / "ubc-kernel-tests-run";
  std::filesystem::remove_all(run_dir);
  setenv("UBC_RUN_DIR", run_dir.c_str(), 1);
  if (ubc::test::host().engine_loaded()) ubc::test::host().unload_engine();
  ubc::test::host().load_engine();

  doctest::Context context(argc, argv);
  const int status = context.run();

  // host() anew: a test that reloads the engine replaces it (reopen_host).
  ubc::test::host().unload_engine();
  std::error_code ignored;
  std::filesystem::remove(ubc::test::host().paths().cgroup_root, ignored);
  return status;
}
