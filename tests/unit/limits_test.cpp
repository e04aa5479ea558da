#include "ubc/limits.h"

#include <doctest/doctest.h>

#include <stdexcept>

using ubc::find_resource;
using ubc::Limits;
using ubc::parse_limits;

namespace {
constexpr std::uint64_t kPage = 4096;
const ubc::ResourceInfo& numfile() {
  return *find_resource("numfile");
}
const ubc::ResourceInfo& shmpages() {
  return *find_resource("shmpages");
}
const ubc::ResourceInfo& kmemsize() {
  return *find_resource("kmemsize");
}

std::string error_of(const ubc::ResourceInfo& resource, const char* text) {
  try {
    parse_limits(resource, text, kPage);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}
}  // namespace

TEST_CASE("one value sets barrier and limit alike") {
  CHECK(parse_limits(numfile(), "128", kPage) == Limits{128, 128});
}

TEST_CASE("B:L sets barrier and limit") {
  CHECK(parse_limits(numfile(), "100:200", kPage) == Limits{100, 200});
  CHECK(parse_limits(numfile(), "0:0", kPage) == Limits{0, 0});
}

TEST_CASE("unlimited is LONG_MAX, on either side") {
  CHECK(parse_limits(numfile(), "unlimited", kPage) == Limits{UBC_UNLIMITED, UBC_UNLIMITED});
  CHECK(parse_limits(numfile(), "10:unlimited", kPage) == Limits{10, UBC_UNLIMITED});
  CHECK(UBC_UNLIMITED == 9223372036854775807ULL);
}

TEST_CASE("byte resources take K/M/G/T as powers of 1024 and P as pages") {
  CHECK(parse_limits(kmemsize(), "2K", kPage).barrier == 2048);
  CHECK(parse_limits(kmemsize(), "3m", kPage).barrier == 3ULL << 20);
  CHECK(parse_limits(kmemsize(), "1G:2G", kPage) == Limits{1ULL << 30, 2ULL << 30});
  CHECK(parse_limits(kmemsize(), "1T", kPage).barrier == 1ULL << 40);
  CHECK(parse_limits(kmemsize(), "10P", kPage).barrier == 10 * kPage);
}

TEST_CASE("page resources convert byte suffixes to pages and take plain numbers as pages") {
  CHECK(parse_limits(shmpages(), "256", kPage).barrier == 256);
  CHECK(parse_limits(shmpages(), "1M", kPage).barrier == (1ULL << 20) / kPage);
  CHECK(parse_limits(shmpages(), "7P", kPage).barrier == 7);
  // Below or between pages: rounded up, so a byte value never becomes a limit of 0.
  CHECK(parse_limits(shmpages(), "1K", kPage).barrier == 1);
  CHECK(parse_limits(shmpages(), "5K", kPage).barrier == 2);
  CHECK(parse_limits(shmpages(), "0K", kPage).barrier == 0);
}

TEST_CASE("bad input is rejected with a message that names the resource and the problem") {
  CHECK(error_of(numfile(), "") == "numfile: '' is empty; expected a number or 'unlimited'");
  CHECK(error_of(numfile(), "abc") == "numfile: 'abc' is not a number or 'unlimited'");
  CHECK(error_of(numfile(), "-5") == "numfile: '-5' is not a number or 'unlimited'");
  CHECK(error_of(numfile(), "10K").find("is a count and takes plain numbers") != std::string::npos);
  CHECK(error_of(kmemsize(), "10X").find("unknown suffix 'X'") != std::string::npos);
  CHECK(error_of(kmemsize(), "10KB").find("unknown suffix 'KB'") != std::string::npos);
  CHECK(error_of(numfile(), "200:100") == "numfile: barrier 200 is above limit 100");
  CHECK(error_of(numfile(), "1:2:3").find("more than one ':'") != std::string::npos);
  CHECK(error_of(numfile(), "99999999999999999999").find("too large") != std::string::npos);
  CHECK(error_of(numfile(), "9223372036854775808").find("too large") != std::string::npos);
  CHECK(error_of(kmemsize(), "9000000000000T").find("too large") != std::string::npos);
  CHECK(error_of(numfile(), "5:").find("is empty") != std::string::npos);
}

TEST_CASE("limits are saved the way vzctl saves them") {
  CHECK(ubc::format_limits({100, 100}) == "100");
  CHECK(ubc::format_limits({100, 200}) == "100:200");
  CHECK(ubc::format_limits({100, UBC_UNLIMITED}) == "100:unlimited");
  CHECK(ubc::format_limits({UBC_UNLIMITED, UBC_UNLIMITED}) == "unlimited");
}
