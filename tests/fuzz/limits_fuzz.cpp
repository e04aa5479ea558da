// Fuzzes the barrier:limit reader, ubc::parse_limits, for every row of the resource table
// and for 4 KiB and 64 KiB pages: what `ubcctl set` and the CT configs take from people.
//
// Input: the value text, as after `--numfile ` or in NUMFILE="...".
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

#include "fuzz_support.h"
#include "ubc/limits.h"
#include "ubc/resource_table.h"

namespace {

[[noreturn]] void fail(const std::string& what) {
  ubc::fuzz::fail("limits", what);
}

[[noreturn]] void fail_check(const ubc::ResourceInfo& resource, std::string_view text, std::uint64_t page_size,
                             const std::string& what) {
  fail(std::string(resource.name) + " '" + std::string(text) + "' (page size " + std::to_string(page_size) +
       "): " + what);
}

void check(const ubc::ResourceInfo& resource, std::string_view text, std::uint64_t page_size) {
  ubc::Limits limits;
  try {
    limits = ubc::parse_limits(resource, text, page_size);
  } catch (const std::invalid_argument&) {
    return;  // the documented refusal
  }
  // What limits.cpp guarantees of a value it takes: a barrier above its limit is refused,
  // anything above LONG_MAX is refused as "too large", a single value sets both.
  if (limits.barrier > limits.limit) fail_check(resource, text, page_size, "barrier above limit");
  if (limits.limit > UBC_UNLIMITED) fail_check(resource, text, page_size, "limit above 'unlimited'");
  if (text.find(':') == std::string_view::npos)
    if (limits.barrier != limits.limit) fail_check(resource, text, page_size, "one value set two thresholds");

  // What vzctl saves must read back as what was set.
  const std::string saved = ubc::format_limits(limits);
  ubc::Limits reread;
  try {
    reread = ubc::parse_limits(resource, saved, page_size);
  } catch (const std::invalid_argument& refusal) {
    fail(std::string("format_limits() wrote what parse_limits() refuses: ") + refusal.what());
  }
  if (reread != limits) fail_check(resource, text, page_size, "'" + saved + "' reads back differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ubc::fuzz::run_one("limits", data, size, [](std::string_view text) {
    for (const auto& resource : ubc::resource_table())
      for (const std::uint64_t page_size : {4096u, 65536u}) check(resource, text, page_size);
  });
}
