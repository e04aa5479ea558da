// OpenVZ's I/O settings of a CT (ioprio, iolimit, iopslimit) and what they become in
// cgroup v2: a proportional weight (io.bfq.weight where a device uses BFQ, io.weight where
// the kernel's iocost controller runs) and io.max's throttles on the CT's block devices.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ubc::sched {

// vzctl(8): ioprio 0..7, default 4.
inline constexpr std::uint32_t kMaxIoPrio = 7;
inline constexpr std::uint32_t kDefaultIoPrio = 4;

struct IoSettings {
  std::optional<std::uint32_t> ioprio;     // IOPRIO: share of a busy device among CTs
  std::optional<std::uint64_t> iolimit;    // IOLIMIT: bytes per second, each of read and write; 0 = none
  std::optional<std::uint64_t> iopslimit;  // IOPSLIMIT: operations per second, each way; 0 = none

  bool empty() const { return !ioprio && !iolimit && !iopslimit; }
};

// A block device by number, as io.max and io.stat name it ("8:0").
struct BlockDevice {
  unsigned major = 0, minor = 0;
  std::string text() const { return std::to_string(major) + ":" + std::to_string(minor); }
  friend bool operator==(const BlockDevice&, const BlockDevice&) = default;
  friend auto operator<=>(const BlockDevice&, const BlockDevice&) = default;
};

// Parses vzctl's forms; throws std::invalid_argument with the reason. An iolimit is
// N[B|K|M|G] with vzctl's unit, megabytes per second, where no suffix is given
// (`bare_unit` says otherwise: the config keeps bytes).
std::uint32_t parse_ioprio(const std::string& text);
std::uint64_t parse_iolimit(const std::string& text, std::uint64_t bare_unit = 1024 * 1024);
std::uint64_t parse_iopslimit(const std::string& text);

// The weight of an ioprio: OpenVZ's CFQ weight (320, 365, ... 640) divided by 5, so that
// the default ioprio 4 is the kernel's default weight 100 and CFQ's ratios are kept
// (ioprio 7 gets twice what ioprio 0 gets). Valid in io.bfq.weight (1..1000) and io.weight
// (1..10000) alike.
std::uint32_t io_weight(std::uint32_t ioprio);
// The ioprio whose weight this is, if any.
std::optional<std::uint32_t> ioprio_of_weight(std::uint32_t weight);

// One io.max line for `device` with the limits `settings` sets ("8:0 rbps=10485760
// wbps=10485760"); a limit of 0 is "max". Limits not set are left out: the kernel keeps
// what the line had.
std::string io_max_line(const BlockDevice& device, const IoSettings& settings);
// The line that lifts every limit of `device`.
std::string io_max_cleared(const BlockDevice& device);

// io.max as the kernel prints it: each device's bytes and operations limits (0: max).
struct IoMaxEntry {
  BlockDevice device;
  std::uint64_t rbps = 0, wbps = 0, riops = 0, wiops = 0;
};
std::vector<IoMaxEntry> parse_io_max(const std::string& text);

// An io weight file's ("default 100\n8:0 200\n") default weight, if it has one.
std::optional<std::uint32_t> default_io_weight(const std::string& text);

}  // namespace ubc::sched
