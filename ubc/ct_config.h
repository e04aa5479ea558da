// A CT's config file in vzctl's format: KEY="value" lines (NUMFILE="B:L", HOSTNAME=...),
// comments and unknown keys kept as they are when the file is rewritten.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ubc/limits.h"

namespace ubc {

// A config file that cannot be read: says which file, which line and why.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::filesystem::path& file, int line, const std::string& reason);
};

class CtConfig {
 public:
  // Reads `file`; a file that does not exist is an empty config.
  static CtConfig load(const std::filesystem::path& file);
  static CtConfig parse(const std::string& text, const std::filesystem::path& file_name);

  std::optional<std::string> get(const std::string& key) const;
  // `key`'s value through `parse` (none when unset or empty); a value `parse` refuses
  // (std::invalid_argument) throws ConfigError naming the file, the line and the reason.
  template <class Parse>
  auto parsed(const std::string& key, Parse parse) const -> std::optional<decltype(parse(std::string()))>;
  // The line that sets `key` (0 if none), for error messages.
  int line_of(const std::string& key) const;
  const std::filesystem::path& file() const { return file_; }
  void set(const std::string& key, const std::string& value);
  void erase(const std::string& key);
  std::string text() const;
  // Writes atomically (a temporary file renamed over the old one).
  void save(const std::filesystem::path& file) const;

  // The beancounter rows the file sets (NUMFILE="B:L" ...), parsed as `ubcctl set` parses
  // them. Throws ConfigError naming the line of a bad value.
  std::map<ubc_resource, Limits> beancounters(std::uint64_t page_size) const;
  void set_beancounter(const ResourceInfo& resource, const Limits& limits);

 private:
  struct Line {
    std::string text;  // as read, for lines that are not KEY="value"
    std::string key;   // empty for comments, blank and unparsed lines
    std::string value;
    int number = 0;
  };
  std::vector<Line> lines_;
  std::filesystem::path file_;
};

template <class Parse>
auto CtConfig::parsed(const std::string& key, Parse parse) const -> std::optional<decltype(parse(std::string()))> {
  const auto value = get(key);
  if (!value || value->empty()) return std::nullopt;
  try {
    return parse(*value);
  } catch (const std::invalid_argument& error) {
    throw ConfigError(file_, line_of(key), key + ": " + error.what());
  }
}

// Held while config files are read, changed and written back (set --save, create, clone,
// a uid range chosen), so that two writers at once never lose each other's change: one
// lock for the config directory, across processes. Taken again by a thread that holds it,
// it waits for nothing.
class ConfigLock {
 public:
  explicit ConfigLock(const std::filesystem::path& dir);
  ~ConfigLock();
  ConfigLock(ConfigLock&& other) noexcept;
  ConfigLock(const ConfigLock&) = delete;
  ConfigLock& operator=(const ConfigLock&) = delete;
  ConfigLock& operator=(ConfigLock&&) = delete;

 private:
  int fd_ = -1;  // -1: the thread held it already
};

// Where CT configs live: $UBC_CONF_DIR, default /etc/ubc (like vzctl's /etc/vz/conf).
std::filesystem::path config_dir();
// Where running CTs keep their pid, console and live CPU settings: $UBC_RUN_DIR, default /run/ubc.
std::filesystem::path run_dir();
// Where ubc keeps what outlives a boot (private areas, templates, failcnt baselines):
// $UBC_STATE_DIR, default /var/lib/ubc.
std::filesystem::path state_dir();

}  // namespace ubc
