#include "ubc/criu_seccomp_image.h"

#include <doctest/doctest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "loader/seccomp_policy.h"

namespace {

std::string varint(std::uint64_t value) {
  std::string bytes;
  do {
    const auto low = static_cast<char>(value & 0x7f);
    value >>= 7;
    bytes += static_cast<char>(low | (value ? 0x80 : 0));
  } while (value);
  return bytes;
}

std::string length_delimited(int field, const std::string& bytes) {
  return varint(static_cast<std::uint64_t>(field) << 3 | 2) + varint(bytes.size()) + bytes;
}

std::string u32(std::uint32_t value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}

std::string program_bytes(const std::vector<sock_filter>& program) {
  return std::string(reinterpret_cast<const char*>(program.data()), program.size() * sizeof(sock_filter));
}

// seccomp.img as CRIU writes it: its magics, one seccomp_entry of the filters given (each
// with `prev` and `flags` after its program, as CRIU sets them).
std::string seccomp_image(const std::vector<std::vector<sock_filter>>& filters) {
  std::string entry;
  for (const auto& program : filters)
    entry += length_delimited(
        1, length_delimited(1, program_bytes(program)) + varint(2 << 3) + varint(0) + varint(3 << 3) + varint(1));
  return u32(0x54564319) + u32(0x64413049) + u32(static_cast<std::uint32_t>(entry.size())) + entry;
}

std::vector<sock_filter> program_in(const std::string& image, std::size_t begin, std::size_t count) {
  std::vector<sock_filter> program(count);
  std::memcpy(program.data(), image.data() + begin, count * sizeof(sock_filter));
  return program;
}

constexpr std::uint16_t kReturn = BPF_RET | BPF_K;
constexpr std::uint16_t kJumpIfEqual = BPF_JMP | BPF_JEQ | BPF_K;

}  // namespace

TEST_CASE("a checkpoint's seccomp filters: each notification becomes a trace, nothing else changes") {
  const std::vector<sock_filter> first{
      {kJumpIfEqual, 0, 1, SECCOMP_RET_USER_NOTIF},  // the same number, not a return: kept
      {kReturn, 0, 0, SECCOMP_RET_USER_NOTIF},
      {kReturn, 0, 0, SECCOMP_RET_ERRNO | 1},
      {kReturn, 0, 0, SECCOMP_RET_ALLOW},
  };
  const std::vector<sock_filter> second{{kReturn, 0, 0, SECCOMP_RET_USER_NOTIF}, {kReturn, 0, 0, SECCOMP_RET_ALLOW}};
  std::string image = seccomp_image({first, second});
  const std::string before = image;
  CHECK(ubc::trace_instead_of_notify(image) == 2);
  REQUIRE(image.size() == before.size());
  const std::size_t first_at = before.find(program_bytes(first));
  const auto patched = program_in(image, first_at, first.size());
  CHECK(patched[0].k == SECCOMP_RET_USER_NOTIF);
  CHECK(patched[1].k == SECCOMP_RET_TRACE);
  CHECK(patched[2].k == (SECCOMP_RET_ERRNO | 1));
  CHECK(patched[3].k == SECCOMP_RET_ALLOW);
  CHECK(program_in(image, before.find(program_bytes(second)), 1)[0].k == SECCOMP_RET_TRACE);
  // Only the notifications' bytes changed.
  std::size_t differing = 0;
  for (std::size_t i = 0; i < image.size(); ++i) differing += image[i] != before[i];
  CHECK(differing == 2);
  // Done twice, nothing more to do: a restore that failed may run again.
  CHECK(ubc::trace_instead_of_notify(image) == 0);
}

TEST_CASE("the program a restore stacks notifies; in a checkpoint it becomes a trace") {
  const auto served = ubc::seccomp::served_calls_program(true);
  std::string image = seccomp_image({served});
  // sysinfo, quotactl and quotactl_fd, where each architecture has them.
  CHECK(ubc::trace_instead_of_notify(image) >= 1);
  CHECK(image.find(u32(SECCOMP_RET_USER_NOTIF)) == std::string::npos);
}

TEST_CASE("a seccomp.img that CRIU did not write is refused, never written") {
  const std::vector<sock_filter> program{{kReturn, 0, 0, SECCOMP_RET_USER_NOTIF}};
  const std::string good = seccomp_image({program});
  auto refused = [](std::string image) { CHECK_THROWS_AS(ubc::trace_instead_of_notify(image), std::runtime_error); };
  refused("");
  refused(u32(0x54564319) + u32(0x12345678));  // another image
  refused(good.substr(0, good.size() - 1));    // cut short
  refused(good + u32(100));                    // an entry past the end
  std::string odd = good;
  odd[8] = static_cast<char>(odd[8] + 1);  // the entry's size one byte longer than it is
  refused(odd + "x");
  std::string half_instruction = u32(0x54564319) + u32(0x64413049);
  const std::string entry = length_delimited(1, length_delimited(1, std::string(12, '\0')));
  refused(half_instruction + u32(static_cast<std::uint32_t>(entry.size())) + entry);
}
