#include "ubc/ct_process.h"

#include <grp.h>
#include <unistd.h>

#include <cstdlib>

#include "loader/error.h"

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

void become_ct_root() {
  if (::setgroups(0, nullptr)) throw_system_error("setgroups");
  if (::setresgid(0, 0, 0)) throw_system_error("setresgid(0)");
  if (::setresuid(0, 0, 0)) throw_system_error("setresuid(0)");
}

}  // namespace ubc
