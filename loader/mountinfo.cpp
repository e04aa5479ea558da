#include "loader/mountinfo.h"

#include <fstream>
#include <sstream>

namespace ubc {

namespace {

// mountinfo escapes space, tab, newline and backslash in paths as \ooo (octal).
std::string unescape(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(const std::string& text) {
  std::vector<MountEntry> entries;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    // ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
    const auto separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream head(line.substr(0, separator)), tail(line.substr(separator + 3));
    std::string id, parent, device, root, point;
    MountEntry entry;
    std::string source;
    head >> id >> parent >> device >> root >> point;
    tail >> entry.fstype >> source >> entry.super_options;
    entry.mount_point = unescape(point);
    entry.source = unescape(source);
    if (const auto colon = device.find(':'); colon != std::string::npos) {
      entry.major = static_cast<unsigned>(std::stoul(device.substr(0, colon)));
      entry.minor = static_cast<unsigned>(std::stoul(device.substr(colon + 1)));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<MountEntry> read_mountinfo() {
  std::ifstream in("/proc/self/mountinfo");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_mountinfo(text.str());
}

}  // namespace ubc
