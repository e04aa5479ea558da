// A path in a CT's files resolves inside them, whatever symlinks the tree holds.
#include "loader/open_in_root.h"

#include <doctest/doctest.h>
#include <fcntl.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

TEST_CASE("symlinks in a CT's tree resolve inside it, never to the host's files") {
  const fs::path base = fs::temp_directory_path() / "ubc-open-in-root-test";
  fs::remove_all(base);
  const fs::path root = base / "root", outside = base / "outside";
  fs::create_directories(root / "real");
  fs::create_directories(outside);
  std::ofstream(outside / "machine-id") << "host";
  std::ofstream(root / "real" / "machine-id") << "ct";
  // An absolute link to the outside directory, and one that climbs out with "..".
  fs::create_symlink(outside, root / "etc");
  fs::create_symlink("../../outside", root / "up");
  CHECK(!ubc::open_in_root(root, "etc/machine-id", O_RDONLY));
  CHECK(errno == ENOENT);
  CHECK(!ubc::open_in_root(root, "up/machine-id", O_RDONLY));
  // Inside the root, absolute links mean the root's own paths.
  fs::create_symlink("/real", root / "link");
  CHECK(ubc::open_in_root(root, "link/machine-id", O_RDONLY));
  CHECK(ubc::open_in_root(root, "/real/machine-id", O_RDONLY));
  fs::remove_all(base);
}
