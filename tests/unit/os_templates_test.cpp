// OS templates found by name in $UBC_STATE_DIR/templates, as vzctl found its template cache;
// a path is taken as it is.
#include "ubc/os_templates.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace {

// A state directory of its own for the test, put back as it was afterwards.
class StateDir {
 public:
  StateDir() {
    if (const char* old = std::getenv("UBC_STATE_DIR")) old_ = old;
    fs::remove_all(path_);
    fs::create_directories(path_ / "templates");
    ::setenv("UBC_STATE_DIR", path_.c_str(), 1);
  }
  ~StateDir() {
    if (old_.empty())
      ::unsetenv("UBC_STATE_DIR");
    else
      ::setenv("UBC_STATE_DIR", old_.c_str(), 1);
    fs::remove_all(path_);
  }
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;
  fs::path add(const std::string& file) const {
    const fs::path tarball = path_ / "templates" / file;
    std::ofstream(tarball) << "not really a tarball";
    return tarball;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_ = fs::temp_directory_path() / "ubc-os-templates-test";
  std::string old_;
};

}  // namespace

TEST_CASE("a template is found by its name, whatever the tarball's compression") {
  StateDir state;
  const auto gz = state.add("debian-13.tar.gz");
  const auto zst = state.add("alpine-3.tar.zst");
  state.add("notes.txt");
  CHECK(ubc::os_templates_dir() == state.path() / "templates");
  CHECK(ubc::find_os_template("debian-13") == gz);
  CHECK(ubc::find_os_template("alpine-3") == zst);
  CHECK(ubc::os_template_names() == std::vector<std::string>{"alpine-3", "debian-13"});
  CHECK(ubc::is_os_template_name("debian-13"));
}

TEST_CASE("a path is taken as a path, and a missing one says so") {
  StateDir state;
  const auto tarball = state.add("custom.tar.gz");
  CHECK(!ubc::is_os_template_name(tarball.string()));
  CHECK(ubc::find_os_template(tarball.string()) == tarball);
  CHECK_THROWS_WITH_AS(ubc::find_os_template("/nowhere/x.tar.gz"), "--ostemplate /nowhere/x.tar.gz is not a file",
                       std::runtime_error);
  // Names cannot climb out of the templates directory.
  CHECK(!ubc::is_os_template_name("../custom"));
  CHECK(!ubc::is_os_template_name(".hidden"));
}

TEST_CASE("a missing template names those there and how to make one") {
  StateDir state;
  std::string why;
  try {
    ubc::find_os_template("debian-12");
  } catch (const std::runtime_error& error) {
    why = error.what();
  }
  CHECK(why.find("no OS template debian-12") != std::string::npos);
  CHECK(why.find("none there") != std::string::npos);
  CHECK(why.find("ubc-mkrootfs --dist bookworm") != std::string::npos);
  state.add("debian-13.tar.gz");
  CHECK_THROWS_WITH_AS(ubc::find_os_template("debian-12"), doctest::Contains("there: debian-13"), std::runtime_error);
}
