#include "ubc/criu_seccomp_image.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "loader/error.h"
#include "loader/unique_fd.h"

namespace ubc {
namespace fs = std::filesystem;

namespace {

// criu/include/magic.h: every image but the inventory starts with the common magic, then
// its own.
constexpr std::uint32_t kImageCommonMagic = 0x54564319;
constexpr std::uint32_t kSeccompMagic = 0x64413049;

[[noreturn]] void malformed(const std::string& what) {
  throw std::runtime_error("seccomp.img is not one CRIU wrote: " + what);
}

// A protobuf message's bytes, read field by field (the wire format; the two messages of
// images/seccomp.proto need nothing more).
class WireReader {
 public:
  WireReader(std::string& bytes, std::size_t begin, std::size_t end) : bytes_(bytes), at_(begin), end_(end) {}

  bool done() const { return at_ >= end_; }

  struct Field {
    std::uint64_t number;
    std::size_t begin = 0, end = 0;  // a length-delimited field's bytes
  };

  // The next field; a varint one is skipped over and comes back with no bytes.
  Field next() {
    const std::uint64_t key = varint();
    Field field{key >> 3};
    switch (key & 7) {
      case 0:  // varint
        varint();
        return field;
      case 2: {  // length-delimited
        const std::uint64_t length = varint();
        if (length > end_ - at_) malformed("a field runs past its message");
        field.begin = at_;
        field.end = at_ + length;
        at_ = field.end;
        return field;
      }
      default:
        malformed("a field of wire type " + std::to_string(key & 7));
    }
  }

 private:
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= end_) malformed("a number runs past its message");
      const auto byte = static_cast<std::uint8_t>(bytes_[at_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    malformed("a number of more than 64 bits");
  }

  std::string& bytes_;
  std::size_t at_, end_;
};

// One filter's program (sock_filter instructions, as the kernel took them).
std::size_t retarget_program(std::string& bytes, std::size_t begin, std::size_t end) {
  if ((end - begin) % sizeof(sock_filter)) malformed("a filter is not whole instructions");
  std::size_t changed = 0;
  for (std::size_t at = begin; at < end; at += sizeof(sock_filter)) {
    sock_filter instruction;
    std::memcpy(&instruction, bytes.data() + at, sizeof instruction);
    if (instruction.code != (BPF_RET | BPF_K) || (instruction.k & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_USER_NOTIF)
      continue;
    instruction.k = SECCOMP_RET_TRACE;
    std::memcpy(bytes.data() + at, &instruction, sizeof instruction);
    ++changed;
  }
  return changed;
}

std::uint32_t u32_at(const std::string& bytes, std::size_t at) {
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}

}  // namespace

std::size_t trace_instead_of_notify(std::string& image) {
  if (image.size() < 8 || u32_at(image, 0) != kImageCommonMagic || u32_at(image, 4) != kSeccompMagic)
    malformed("not its magic numbers");
  std::size_t changed = 0;
  for (std::size_t at = 8; at < image.size();) {
    if (image.size() - at < 4) malformed("an entry's size cut short");
    const std::uint32_t size = u32_at(image, at);
    at += 4;
    if (size > image.size() - at) malformed("an entry runs past the end");
    // seccomp_entry: 1 = each seccomp_filter; seccomp_filter: 1 = its program.
    for (WireReader entry(image, at, at + size); !entry.done();) {
      const auto filter = entry.next();
      if (filter.number != 1 || filter.begin == filter.end) continue;
      for (WireReader fields(image, filter.begin, filter.end); !fields.done();)
        if (const auto field = fields.next(); field.number == 1)
          changed += retarget_program(image, field.begin, field.end);
    }
    at += size;
  }
  return changed;
}

std::size_t trace_instead_of_notify_in(const fs::path& dir) {
  const fs::path path = dir / "seccomp.img";
  // Its owner and mode stay (the CT's restored tasks read it): rewritten in place.
  const UniqueFd file(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!file) {
    if (errno == ENOENT) return 0;
    throw_system_error("open(" + path.string() + ")");
  }
  std::string image;
  char buffer[65536];
  for (ssize_t got; (got = ::read(file.get(), buffer, sizeof buffer)) != 0;) {
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_system_error("read(" + path.string() + ")");
    }
    image.append(buffer, static_cast<std::size_t>(got));
  }
  const std::size_t changed = trace_instead_of_notify(image);
  if (!changed) return 0;
  for (std::size_t written = 0; written < image.size();) {
    const ssize_t put =
        ::pwrite(file.get(), image.data() + written, image.size() - written, static_cast<off_t>(written));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) throw_system_error("pwrite(" + path.string() + ")");
    written += static_cast<std::size_t>(put);
  }
  if (::fsync(file.get())) throw_system_error("fsync(" + path.string() + ")");
  return changed;
}

}  // namespace ubc
