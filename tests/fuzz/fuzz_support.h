// What every fuzz target shares: a property that does not hold aborts (libFuzzer then keeps
// the input), and an exception other than the code's documented refusals is a failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

namespace ubc::fuzz {

[[noreturn]] inline void fail(const char* target, const std::string& what) {
  std::fprintf(stderr, "%s fuzz: %s\n", target, what.c_str());
  std::abort();
}

// Runs `check` on one input; an exception it lets through fails the run.
template <typename Check>
int run_one(const char* target, const std::uint8_t* data, std::size_t size, Check check) {
  try {
    check(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception& error) {
    fail(target, std::string("unexpected ") + typeid(error).name() + ": " + error.what());
  }
  return 0;
}

}  // namespace ubc::fuzz
