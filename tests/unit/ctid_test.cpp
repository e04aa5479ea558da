#include <doctest/doctest.h>

#include "ubc/host.h"

TEST_CASE("CT ids are numbers or simple names") {
  CHECK_NOTHROW(ubc::validate_ctid("101"));
  CHECK_NOTHROW(ubc::validate_ctid("web-1.example_2"));
  CHECK_THROWS_AS(ubc::validate_ctid(""), std::invalid_argument);
  CHECK_THROWS_AS(ubc::validate_ctid(".."), std::invalid_argument);
  CHECK_THROWS_AS(ubc::validate_ctid("a/b"), std::invalid_argument);
  CHECK_THROWS_AS(ubc::validate_ctid("-x"), std::invalid_argument);
  CHECK_THROWS_AS(ubc::validate_ctid(std::string(65, 'a')), std::invalid_argument);
}
