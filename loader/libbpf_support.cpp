#include "loader/libbpf_support.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "loader/error.h"

namespace ubc {
namespace {

// libbpf reports why a load failed (the verifier log) through its print callback only;
// keep the tail of it so the exception can say what the kernel said.
std::mutex g_log_mutex;
std::string g_libbpf_log;

int capture_libbpf_log(libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  // A verifier log arrives as one message of many kilobytes: format it whole, so that the
  // tail kept below holds the verifier's verdict.
  va_list measure;
  va_copy(measure, args);
  const int length = vsnprintf(nullptr, 0, format, measure);
  va_end(measure);
  if (length <= 0) return 0;
  std::string text(static_cast<std::size_t>(length) + 1, '\0');
  vsnprintf(text.data(), text.size(), format, args);
  text.pop_back();
  std::lock_guard lock(g_log_mutex);
  g_libbpf_log += text;
  if (g_libbpf_log.size() > 8192) g_libbpf_log.erase(0, g_libbpf_log.size() - 8192);
  return 0;
}

std::string take_libbpf_log() {
  std::lock_guard lock(g_log_mutex);
  return std::exchange(g_libbpf_log, {});
}

}  // namespace

void capture_libbpf_messages() {
  libbpf_set_print(capture_libbpf_log);
  take_libbpf_log();
}

void throw_libbpf(const std::string& what, int error) {
  std::string log = take_libbpf_log();
  std::string message = what + ": " + std::strerror(error);
  if (!log.empty()) message += "\nlibbpf said:\n" + log;
  throw std::runtime_error(message);
}

bool is_pinned_at(int fd, const std::filesystem::path& path) {
  const UniqueFd pinned(bpf_obj_get(path.c_str()));
  if (!pinned) return false;
  bpf_map_info ours{}, theirs{};
  std::uint32_t size = sizeof ours;
  if (bpf_obj_get_info_by_fd(fd, &ours, &size)) return false;
  size = sizeof theirs;
  if (bpf_obj_get_info_by_fd(pinned.get(), &theirs, &size)) return false;
  return ours.id == theirs.id && ours.type == theirs.type;
}

UniqueFd open_pinned(const std::filesystem::path& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) throw_system_error("bpf_obj_get(" + path.string() + ")");
  return UniqueFd(fd);
}

PinGuard::~PinGuard() {
  for (const auto& path : paths_) ::unlink(path.c_str());
}

void check_pinned_layout(int fd, const std::filesystem::path& path, std::uint32_t value_size, std::uint32_t max_entries,
                         const std::string& remedy) {
  bpf_map_info info{};
  std::uint32_t length = sizeof info;
  if (bpf_map_get_info_by_fd(fd, &info, &length)) throw_system_error("bpf_map_get_info_by_fd(" + path.string() + ")");
  if (info.value_size != value_size || info.max_entries != max_entries)
    throw std::runtime_error(path.string() + " was pinned by a version of ubc with another map layout; " + remedy);
}

MappedRegion map_array(int fd, std::size_t value_size, std::size_t entries, const std::string& name) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t size = (value_size * entries + page - 1) / page * page;
  void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) throw_system_error("mmap(" + name + ")");
  return MappedRegion(address, size);
}

}  // namespace ubc
