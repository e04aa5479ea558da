#include "ubc/ct_files.h"

#include <crypt.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "loader/child_process.h"
#include "loader/error.h"
#include "loader/unique_fd.h"

namespace ubc {

namespace {

// No file ubc edits in a CT is anywhere near this; a bigger one is a CT's attempt to make
// the host read without end.
constexpr off_t kMaxEditedFileBytes = 4 << 20;
// A CT's ids on the host: its root's and the 65535 after it (USERNS_IDMAP's usual count).
constexpr unsigned kCtIdCount = 65536;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string first_word(const std::string& line) {
  const auto start = line.find_first_not_of(" \t");
  if (start == std::string::npos) return "";
  return line.substr(start, line.find_first_of(" \t", start) - start);
}

// The whole of a regular file, or "" when it is missing; throws for anything else.
std::string read_regular_file(const char* path, int follow_flags) {
  const UniqueFd file(::open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | follow_flags));
  if (!file) {
    if (errno == ENOENT) return "";
    throw_system_error(std::string("open(") + path + ")");
  }
  struct stat info {};
  if (::fstat(file.get(), &info)) throw_system_error(std::string("fstat(") + path + ")");
  if (!S_ISREG(info.st_mode)) throw std::runtime_error(std::string(path) + " is not a regular file");
  if (info.st_size > kMaxEditedFileBytes) throw std::runtime_error(std::string(path) + " is too big to edit");
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t got = ::read(file.get(), text.data() + done, text.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_system_error(std::string("read(") + path + ")");
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  text.resize(done);
  return text;
}

void write_all(int fd, const std::string& text, const std::string& what) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t put = ::write(fd, text.data() + done, text.size() - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) throw_system_error("write(" + what + ")");
    done += static_cast<std::size_t>(put);
  }
}

// Replaces `path` with a file holding `text`, whole or not at all: written beside it and
// renamed over it. `like` (when the file existed) gives the new one its mode and owner,
// which must be the CT's own ids.
void replace_file(const std::string& path, const std::string& text, const struct stat* like) {
  const auto slash = path.rfind('/');
  const std::string temporary = path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".ubc-new";
  if (::unlink(temporary.c_str()) && errno != ENOENT) throw_system_error("unlink(" + temporary + ")");
  const mode_t mode = like ? (like->st_mode & 07777) : 0644;
  UniqueFd file(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!file) throw_system_error("open(" + temporary + ")");
  try {
    write_all(file.get(), text, temporary);
    if (like) {
      const unsigned own = ::getuid();
      if (like->st_uid - own >= kCtIdCount || like->st_gid - own >= kCtIdCount)
        throw std::runtime_error(path + " belongs to ids outside the CT's");
      if (::fchmod(file.get(), mode)) throw_system_error("fchmod(" + temporary + ")");
      if (::fchown(file.get(), like->st_uid, like->st_gid)) throw_system_error("fchown(" + temporary + ")");
    }
    if (::fsync(file.get())) throw_system_error("fsync(" + temporary + ")");
    if (::rename(temporary.c_str(), path.c_str())) throw_system_error("rename(" + temporary + ", " + path + ")");
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
}

// Permitted and effective: CAP_CHOWN alone.
void keep_only_chown() {
  const std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&::cap_free)> caps(::cap_init(), &::cap_free);
  if (!caps) throw_system_error("cap_init");
  const cap_value_t chown[] = {CAP_CHOWN};
  if (::cap_set_flag(caps.get(), CAP_PERMITTED, 1, chown, CAP_SET) ||
      ::cap_set_flag(caps.get(), CAP_EFFECTIVE, 1, chown, CAP_SET) || ::cap_set_proc(caps.get()))
    throw_system_error("cap_set_proc(CAP_CHOWN)");
}

void become_ct_files_owner(unsigned id) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) throw_system_error("prctl(PR_SET_NO_NEW_PRIVS)");
  if (id != 0) {
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) throw_system_error("prctl(PR_SET_KEEPCAPS)");
    if (::setgroups(0, nullptr)) throw_system_error("setgroups");
    if (::setresgid(id, id, id)) throw_system_error("setresgid(" + std::to_string(id) + ")");
    if (::setresuid(id, id, id)) throw_system_error("setresuid(" + std::to_string(id) + ")");
  }
  keep_only_chown();
}

}  // namespace

ResolverSettings resolver_settings(const std::vector<std::string>& nameservers,
                                   const std::vector<std::string>& search_domains,
                                   const std::string& host_resolv_conf) {
  ResolverSettings host;
  for (const auto& line : lines_of(host_resolv_conf)) {
    std::istringstream in(line);
    std::string word;
    in >> word;
    auto& list = word == "nameserver" ? host.nameservers : host.search_domains;
    if (word != "nameserver" && word != "search" && word != "domain") continue;
    for (std::string value; in >> value;) list.push_back(value);
  }
  ResolverSettings settings;
  auto expand = [](const std::vector<std::string>& wanted, const std::vector<std::string>& inherited) {
    std::vector<std::string> result;
    for (const auto& value : wanted) {
      if (value == "inherit")
        result.insert(result.end(), inherited.begin(), inherited.end());
      else
        result.push_back(value);
    }
    return result;
  };
  settings.nameservers = expand(nameservers, host.nameservers);
  settings.search_domains = expand(search_domains, host.search_domains);
  return settings;
}

ResolverSettings resolver_settings(const std::vector<std::string>& nameservers,
                                   const std::vector<std::string>& search_domains) {
  const bool inherits = std::find(nameservers.begin(), nameservers.end(), "inherit") != nameservers.end() ||
                        std::find(search_domains.begin(), search_domains.end(), "inherit") != search_domains.end();
  std::ifstream host("/etc/resolv.conf");
  std::stringstream text;
  if (inherits) text << host.rdbuf();
  return resolver_settings(nameservers, search_domains, text.str());
}

std::string rewritten_resolv_conf(const std::string& old, const ResolverSettings& settings) {
  std::string text;
  for (const auto& line : lines_of(old)) {
    const std::string word = first_word(line);
    if (!settings.nameservers.empty() && word == "nameserver") continue;
    if (!settings.search_domains.empty() && (word == "search" || word == "domain")) continue;
    text += line + "\n";
  }
  if (!settings.search_domains.empty()) {
    text += "search";
    for (const auto& domain : settings.search_domains) text += " " + domain;
    text += "\n";
  }
  for (const auto& server : settings.nameservers) text += "nameserver " + server + "\n";
  return text;
}

std::string shadow_with_password(const std::string& old, const std::string& user, const std::string& hash,
                                 long days_since_epoch) {
  if (user.empty() || user.find_first_of(":\n") != std::string::npos)
    throw std::invalid_argument("'" + user + "' is not a user name");
  if (hash.find_first_of(":\n") != std::string::npos) throw std::invalid_argument("a password hash has no ':'");
  std::string text;
  bool found = false;
  for (const auto& line : lines_of(old)) {
    if (line.compare(0, user.size() + 1, user + ":") != 0) {
      text += line + "\n";
      continue;
    }
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t colon; (colon = line.find(':', start)) != std::string::npos; start = colon + 1)
      fields.push_back(line.substr(start, colon - start));
    fields.push_back(line.substr(start));
    if (fields.size() < 3) fields.resize(3);
    fields[1] = hash;
    fields[2] = std::to_string(days_since_epoch);
    std::string rebuilt = fields.front();
    for (std::size_t i = 1; i < fields.size(); ++i) rebuilt += ":" + fields[i];
    text += rebuilt + "\n";
    found = true;
  }
  if (!found) throw std::invalid_argument("no user '" + user + "' in the CT's /etc/shadow");
  return text;
}

std::string hash_password(const std::string& password) {
  const std::unique_ptr<char, decltype(&::free)> salt(::crypt_gensalt_ra(nullptr, 0, nullptr, 0), &::free);
  if (!salt) throw_system_error("crypt_gensalt");
  auto data = std::make_unique<crypt_data>();
  const char* hash = ::crypt_r(password.c_str(), salt.get(), data.get());
  if (!hash || hash[0] == '*') throw_system_error("crypt");
  return hash;
}

void write_hostname_file(const std::string& hostname) {
  // Anything but a regular file (missing, a symlink, a fifo, a directory) is left alone.
  const UniqueFd file(::open("/etc/hostname", O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat info {};
  if (!file || ::fstat(file.get(), &info) || !S_ISREG(info.st_mode)) return;
  if (::ftruncate(file.get(), 0)) throw_system_error("ftruncate(/etc/hostname)");
  write_all(file.get(), hostname + "\n", "/etc/hostname");
}

void write_resolv_conf(const ResolverSettings& settings) {
  if (settings.empty()) return;
  const char* path = "/etc/resolv.conf";
  struct stat info {};
  const bool exists = ::lstat(path, &info) == 0 && S_ISREG(info.st_mode);
  const std::string old = exists ? read_regular_file(path, O_NOFOLLOW) : "";
  replace_file(path, rewritten_resolv_conf(old, settings), exists ? &info : nullptr);
}

void write_password(const std::string& user, const std::string& hash) {
  const char* path = "/etc/shadow";
  struct stat info {};
  if (::lstat(path, &info)) throw_system_error("lstat(/etc/shadow)");
  if (!S_ISREG(info.st_mode)) throw std::runtime_error("the CT's /etc/shadow is not a regular file");
  const std::string old = read_regular_file(path, O_NOFOLLOW);
  const long days = static_cast<long>(::time(nullptr) / 86400);
  replace_file(path, shadow_with_password(old, user, hash, days), &info);
}

void edit_ct_files(const std::filesystem::path& root, unsigned ct_root_host_id, const std::function<void()>& edit) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC)) throw_system_error("pipe2");
  UniqueFd message_read(ends[0]), message_write(ends[1]);
  const pid_t child = ::fork();
  if (child < 0) throw_system_error("fork");
  if (child == 0) {
    try {
      message_read.reset();
      // Not dumpable: a CT process with the same uid cannot ptrace or read it.
      if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) throw_system_error("prctl(PR_SET_DUMPABLE)");
      if (::chroot(root.c_str()) || ::chdir("/")) throw_system_error("chroot(" + root.string() + ")");
      become_ct_files_owner(ct_root_host_id);
      edit();
      ::_exit(0);
    } catch (const std::exception& error) {
      const std::string text = error.what();
      [[maybe_unused]] auto ignored = ::write(message_write.get(), text.data(), text.size());
      ::_exit(1);
    }
  }
  message_write.reset();
  const std::string message = read_until_closed(message_read.get());
  if (wait_for_exit(child) == 0) return;
  throw std::runtime_error(message.empty() ? "editing the CT's files failed" : message);
}

}  // namespace ubc
