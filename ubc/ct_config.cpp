#include "ubc/ct_config.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "ubc/host.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

std::string upper(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(), [](unsigned char c) { return std::toupper(c); });
  return result;
}

}  // namespace

ConfigError::ConfigError(const fs::path& file, int line, const std::string& reason)
    : std::runtime_error(file.string() + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + reason) {}

namespace {
thread_local int config_lock_depth = 0;
}  // namespace

ConfigLock::ConfigLock(const fs::path& dir) {
  if (config_lock_depth++ > 0) return;
  try {
    fs::create_directories(dir);
    const fs::path file = dir / ".lock";
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw ConfigError(file, 0, std::string("cannot be opened: ") + std::strerror(errno));
    while (::flock(fd_, LOCK_EX))
      if (errno != EINTR) throw ConfigError(file, 0, std::string("cannot be locked: ") + std::strerror(errno));
  } catch (...) {
    if (fd_ >= 0) ::close(fd_);
    --config_lock_depth;
    throw;
  }
}

ConfigLock::ConfigLock(ConfigLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {
  ++config_lock_depth;
}

ConfigLock::~ConfigLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the file lets the lock go
  --config_lock_depth;
}

fs::path config_dir() {
  const char* dir = std::getenv("UBC_CONF_DIR");
  return dir && *dir ? fs::path(dir) : fs::path("/etc/ubc");
}

fs::path run_dir() {
  const char* dir = std::getenv("UBC_RUN_DIR");
  return dir && *dir ? fs::path(dir) : fs::path("/run/ubc");
}

fs::path state_dir() {
  const char* dir = std::getenv("UBC_STATE_DIR");
  return dir && *dir ? fs::path(dir) : fs::path("/var/lib/ubc");
}

CtConfig CtConfig::load(const fs::path& file) {
  std::ifstream in(file);
  if (!in) {
    if (!fs::exists(file)) {
      CtConfig empty;
      empty.file_ = file;
      return empty;
    }
    throw ConfigError(file, 0, "cannot be read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file);
}

namespace {
// A shell variable name as vzctl's configs use them (NUMFILE, VE_ROOT, IP_ADDRESS).
bool is_valid_key(const std::string& key) {
  return !key.empty() &&
         std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}
}  // namespace

CtConfig CtConfig::parse(const std::string& text, const fs::path& file_name) {
  CtConfig config;
  config.file_ = file_name;
  std::istringstream in(text);
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    Line line{raw, {}, {}, number};
    const auto first = raw.find_first_not_of(" \t\r");  // \r: a file written on Windows
    if (first == std::string::npos || raw[first] == '#') {
      config.lines_.push_back(line);
      continue;
    }
    const auto equals = raw.find('=');
    if (equals == std::string::npos) throw ConfigError(file_name, number, "expected KEY=\"value\", got '" + raw + "'");
    std::string key = raw.substr(first, equals - first);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    if (!is_valid_key(key)) throw ConfigError(file_name, number, "'" + key + "' is not a valid key");
    std::string value = raw.substr(equals + 1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    else if (!value.empty() && value.front() == '"')
      throw ConfigError(file_name, number, "unterminated quote in the value of " + key);
    line.key = key;
    line.value = value;
    config.lines_.push_back(line);
  }
  return config;
}

std::optional<std::string> CtConfig::get(const std::string& key) const {
  for (auto line = lines_.rbegin(); line != lines_.rend(); ++line)
    if (line->key == key) return line->value;
  return std::nullopt;
}

int CtConfig::line_of(const std::string& key) const {
  for (auto line = lines_.rbegin(); line != lines_.rend(); ++line)
    if (line->key == key) return line->number;
  return 0;
}

void CtConfig::set(const std::string& key, const std::string& value) {
  if (!is_valid_key(key)) throw std::invalid_argument("'" + key + "' is not a valid config key");
  // vzctl's configs are shell: sourced by its scripts. A value must stay one quoted word
  // that expands to itself.
  for (const unsigned char c : value)
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '$' || c == '`')
      throw std::invalid_argument(key + ": a value may not hold control characters, quotes, '\\', '$' or '`'");
  for (auto line = lines_.rbegin(); line != lines_.rend(); ++line) {
    if (line->key == key) {
      line->value = value;
      return;
    }
  }
  lines_.push_back({{}, key, value, 0});
}

void CtConfig::erase(const std::string& key) {
  std::erase_if(lines_, [&](const Line& line) { return line.key == key; });
}

std::string CtConfig::text() const {
  std::string text;
  for (const auto& line : lines_) text += (line.key.empty() ? line.text : line.key + "=\"" + line.value + "\"") + "\n";
  return text;
}

void CtConfig::save(const fs::path& file) const {
  fs::create_directories(file.parent_path());
  // The file keeps its mode (a new one is 0644, as vzctl's); what reaches the disk is whole:
  // written and synced under a temporary name, renamed over, the directory synced.
  struct stat old {};
  const mode_t mode = ::stat(file.c_str(), &old) == 0 ? (old.st_mode & 07777) : 0644;
  const fs::path temporary = file.string() + ".tmp." + std::to_string(::getpid());
  const std::string content = text();
  {
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw ConfigError(temporary, 0, std::string("cannot be created: ") + std::strerror(errno));
    std::size_t done = 0;
    while (done < content.size()) {
      const ssize_t wrote = ::write(fd, content.data() + done, content.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote <= 0) break;
      done += static_cast<std::size_t>(wrote);
    }
    const bool whole = done == content.size() && ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!whole) {
      fs::remove(temporary);
      throw ConfigError(temporary, 0, std::string("cannot be written: ") + std::strerror(error));
    }
  }
  std::error_code error;
  fs::rename(temporary, file, error);
  if (error) {
    fs::remove(temporary);
    throw ConfigError(file, 0, "cannot be replaced: " + error.message());
  }
  const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::map<ubc_resource, Limits> CtConfig::beancounters(std::uint64_t page_size) const {
  std::map<ubc_resource, Limits> limits;
  for (const auto& line : lines_) {
    if (line.key.empty()) continue;
    for (const auto& resource : resource_table()) {
      if (upper(resource.name) != line.key) continue;
      try {
        limits[resource.id] = parse_limits(resource, line.value, page_size);
      } catch (const std::invalid_argument& error) {
        throw ConfigError(file_, line.number, error.what());
      }
    }
  }
  return limits;
}

void CtConfig::set_beancounter(const ResourceInfo& resource, const Limits& limits) {
  set(upper(resource.name), format_limits(limits));
}

}  // namespace ubc
