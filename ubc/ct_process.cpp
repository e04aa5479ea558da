#include "ubc/ct_process.h"

#include <grp.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "loader/error.h"
#include "loader/unix_listener.h"
#include "ubc/ct_config.h"

namespace ubc {

namespace {

constexpr const char* kCtPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace

std::vector<std::string> ct_environment() {
  std::vector<std::string> env{kCtPath, "HOME=/root", "container=ubc"};
  if (const char* term = std::getenv("TERM")) env.push_back(std::string("TERM=") + term);
  return env;
}

[[noreturn]] void exec_in_ct(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const auto env = ct_environment();
  std::vector<char*> envp;
  for (const auto& var : env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);
  // execvpe searches the CT's PATH, not the host's.
  ::execvpe(args[0], args.data(), envp.data());
  throw_system_error("exec(" + argv[0] + ")");
}

LoginAccount root_login_account(const std::string& passwd) {
  LoginAccount account;
  std::istringstream lines(passwd);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("root:")) continue;
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string field; std::getline(split, field, ':');) fields.push_back(field);
    if (fields.size() >= 6 && fields[5].starts_with('/')) account.home = fields[5];
    if (fields.size() >= 7 && fields[6].starts_with('/')) account.shell = fields[6];
    break;
  }
  return account;
}

[[noreturn]] void exec_login_shell() {
  std::ifstream file("/etc/passwd");
  std::string passwd;
  // No more than a sane passwd file: the CT's root wrote it.
  passwd.resize(1 << 20);
  file.read(passwd.data(), static_cast<std::streamsize>(passwd.size()));
  passwd.resize(static_cast<std::size_t>(file.gcount()));
  const LoginAccount account = root_login_account(passwd);
  std::vector<std::string> env = ct_environment();
  std::erase_if(env, [](const std::string& var) { return var.starts_with("HOME="); });
  for (const std::string& var :
       {"HOME=" + account.home, "SHELL=" + account.shell, std::string("USER=root"), std::string("LOGNAME=root")})
    env.push_back(var);
  std::vector<char*> envp;
  for (auto& var : env) envp.push_back(var.data());
  envp.push_back(nullptr);
  std::string dash_name = "-" + account.shell.substr(account.shell.rfind('/') + 1);
  char* argv[] = {dash_name.data(), nullptr};
  if (::chdir(account.home.c_str())) [[maybe_unused]]
    auto ignored = ::chdir("/");
  ::execve(account.shell.c_str(), argv, envp.data());
  // A shell that is not there: the CT's /bin/sh, as a login shell still.
  char sh_name[] = "-sh";
  char* fallback[] = {sh_name, nullptr};
  ::execve("/bin/sh", fallback, envp.data());
  throw_system_error("exec(" + account.shell + ")");
}

std::filesystem::path ct_call_socket(const std::string& ctid) {
  return run_dir() / (ctid + ".calls.sock");
}

UniqueFd connect_ct_call_service(const std::string& ctid) {
  return connect_unix(ct_call_socket(ctid));
}

void become_ct_root() {
  if (::setgroups(0, nullptr)) throw_system_error("setgroups");
  if (::setresgid(0, 0, 0)) throw_system_error("setresgid(0)");
  if (::setresuid(0, 0, 0)) throw_system_error("setresuid(0)");
}

}  // namespace ubc
