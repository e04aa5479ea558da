// OS templates: the root filesystem tarballs CTs are created from, found by name in one
// directory as vzctl found /vz/template/cache/NAME.tar.gz (`ubc-mkrootfs --dist` makes them).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ubc {

// $UBC_STATE_DIR/templates (ubc-mkrootfs writes there too).
std::filesystem::path os_templates_dir();

// The tarball `name_or_path` stands for: a path (it names a file, or has a '/'), or a
// template's name, NAME.tar.gz (or .tar.xz, .tar.zst, .tar) in os_templates_dir(). Throws
// with the names there and how to make one when there is no such template.
std::filesystem::path find_os_template(const std::string& name_or_path);

// True when `name_or_path` is a template's name rather than a path.
bool is_os_template_name(const std::string& name_or_path);

// The names of the templates in os_templates_dir(), sorted.
std::vector<std::string> os_template_names();

}  // namespace ubc
