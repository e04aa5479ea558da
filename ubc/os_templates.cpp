#include "ubc/os_templates.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string_view>

#include "ubc/ct_config.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

constexpr std::array<std::string_view, 4> kTarballSuffixes{".tar.gz", ".tar.xz", ".tar.zst", ".tar"};

// The name a template file stands for, or empty if it is not a tarball.
std::string template_name_of(const std::string& file_name) {
  for (const auto suffix : kTarballSuffixes)
    if (file_name.size() > suffix.size() && file_name.ends_with(suffix))
      return file_name.substr(0, file_name.size() - suffix.size());
  return {};
}

}  // namespace

fs::path os_templates_dir() {
  return state_dir() / "templates";
}

bool is_os_template_name(const std::string& name_or_path) {
  return !name_or_path.empty() && name_or_path.find('/') == std::string::npos && name_or_path.front() != '.' &&
         !fs::is_regular_file(name_or_path);
}

std::vector<std::string> os_template_names() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(os_templates_dir(), error)) {
    const std::string name = template_name_of(entry.path().filename().string());
    if (!name.empty() && !name.starts_with('.') && entry.is_regular_file()) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

fs::path find_os_template(const std::string& name_or_path) {
  if (!is_os_template_name(name_or_path)) {
    if (!fs::is_regular_file(name_or_path)) throw std::runtime_error("--ostemplate " + name_or_path + " is not a file");
    return fs::absolute(name_or_path);
  }
  for (const auto suffix : kTarballSuffixes) {
    const fs::path tarball = os_templates_dir() / (name_or_path + std::string(suffix));
    if (fs::is_regular_file(tarball)) return tarball;
  }
  std::string known;
  for (const auto& name : os_template_names()) known += (known.empty() ? "" : ", ") + name;
  throw std::runtime_error("no OS template " + name_or_path + " in " + os_templates_dir().string() + " (" +
                           (known.empty() ? std::string("none there") : "there: " + known) +
                           "); ubc-mkrootfs --dist bookworm|trixie|sid makes debian-12, debian-13 or debian-sid");
}

}  // namespace ubc
