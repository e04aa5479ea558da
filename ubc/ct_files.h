// What ubc writes into a CT's own files, as vzctl's distribution scripts did: its hostname,
// its resolver and its users' passwords. The texts are made by pure functions; the files are
// written either by the CT's init-to-be (already confined to the CT) or, from the host, in a
// child confined to the CT's tree with the ids of the CT's root (edit_ct_files), so that a
// CT's symlinks, fifos and hard links cannot make the host write anywhere but in the CT.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace ubc {

// vzctl's NAMESERVER and SEARCHDOMAIN; an empty list leaves the file's own lines.
struct ResolverSettings {
  std::vector<std::string> nameservers;
  std::vector<std::string> search_domains;
  bool empty() const { return nameservers.empty() && search_domains.empty(); }
};

// The settings a CT's NAMESERVER and SEARCHDOMAIN lists give, "inherit" replaced by the
// lines of the host's resolv.conf (`host_resolv_conf`, its text).
ResolverSettings resolver_settings(const std::vector<std::string>& nameservers,
                                   const std::vector<std::string>& search_domains, const std::string& host_resolv_conf);
// The same with the host's /etc/resolv.conf as it is now.
ResolverSettings resolver_settings(const std::vector<std::string>& nameservers,
                                   const std::vector<std::string>& search_domains);

// `old` (a resolv.conf) with `settings` in place of its nameserver lines and its search and
// domain lines; every other line is kept.
std::string rewritten_resolv_conf(const std::string& old, const ResolverSettings& settings);

// `old` (an /etc/shadow) with `user`'s password field set to `hash` and its date of last
// change to `days_since_epoch`. Throws std::invalid_argument when `user` has no line.
std::string shadow_with_password(const std::string& old, const std::string& user, const std::string& hash,
                                 long days_since_epoch);

// `password` hashed with a fresh salt in libxcrypt's preferred method (yescrypt on Debian).
std::string hash_password(const std::string& password);

// In a process confined to the CT (its root is the CT's): each writes one file.
// /etc/hostname, only when it is a regular file already (a CT may do without one).
void write_hostname_file(const std::string& hostname);
// /etc/resolv.conf, rewritten (made when missing; a symlink is replaced by a file).
void write_resolv_conf(const ResolverSettings& settings);
// /etc/shadow with `user`'s new hash, replaced whole (its owner and mode kept).
void write_password(const std::string& user, const std::string& hash);

// Runs `edit` in a child process chrooted into `root` (a CT's VE_ROOT, or /proc/PID/root of
// its running init), with the uid and gid of the CT's root (`ct_root_host_id` on the host;
// 0 for a CT without a user namespace) and no capability but CAP_CHOWN, which keeps a
// replaced file's owner. Throws std::runtime_error with what `edit` threw.
void edit_ct_files(const std::filesystem::path& root, unsigned ct_root_host_id, const std::function<void()>& edit);

}  // namespace ubc
