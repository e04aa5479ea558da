// The system calls whose cost the engine's hooks add to: each run many times in one
// process, in a CT's cgroup, to compare the engine loaded with the engine unloaded.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ubc::bench {

struct HookOperation {
  std::string what;
  std::function<void()> once;  // one operation, its resources released again
};

// open+close, pipe+close, AF_UNIX socket+close, flock+unlock, fork+exit+wait; files live
// in `scratch`.
std::vector<HookOperation> hook_operations(const std::filesystem::path& scratch);

// Microseconds per call of each operation (or of the `only`th alone), `calls` times each
// after calls/10 to warm up, measured in a child that first joins `cgroup` (so the engine
// charges it to that CT). Throws if the child fails.
std::vector<double> micros_per_call_in_cgroup(const std::filesystem::path& cgroup, const std::filesystem::path& scratch,
                                              int calls, std::optional<std::size_t> only = std::nullopt);

// The calls an operation makes in one measurement, its warm-up included.
inline int calls_with_warm_up(int calls) {
  return calls + calls / 10;
}

}  // namespace ubc::bench
