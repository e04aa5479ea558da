#include "running_ct.h"

#include <doctest/doctest.h>

#include <cstdlib>

namespace ubc::test {
namespace fs = std::filesystem;

RunningCt::RunningCt(std::string id, const std::string& create_flags, const std::string& extra_binaries,
                     const fs::path& root_parent)
    : id_(std::move(id)) {
  root_ = root_parent / ("ubc-rootfs-" + id_);
  fs::remove_all(root_);
  const auto built = std::system(
      ("ubc-mkrootfs " + root_.string() + " ubc-test-workload ubc-escape " + extra_binaries + " >/dev/null").c_str());
  REQUIRE(built == 0);
  const auto created = ubcctl("create " + id_ + " --root " + root_.string() + " " + create_flags);
  REQUIRE_MESSAGE(created.status == 0, created.output);
  const auto started = ubcctl("start " + id_);
  REQUIRE_MESSAGE(started.status == 0, started.output);
}

RunningCt::~RunningCt() {
  ubcctl("destroy --force " + id_);
  fs::remove_all(root_);
}

CommandRun RunningCt::exec(const std::string& command) const {
  return ubcctl("exec " + id_ + " -- sh -c '" + command + "'");
}

void RunningCt::set_numfile_limit(unsigned limit) const {
  const auto set = ubcctl("set " + id_ + " --numfile " + std::to_string(limit) + ":" + std::to_string(limit));
  REQUIRE_MESSAGE(set.status == 0, set.output);
}

}  // namespace ubc::test
