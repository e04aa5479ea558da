// numiptent (nftables rules) in a real kernel: one case per promise of docs/RESOURCES.md.
// The tests' CTs share the host's network namespace (namespaces come with CT isolation), so
// each works on a table of its own.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "loader/engine.h"
#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;

namespace {
// Runs one nft command line (one netlink batch) in the CT, or on the host for ct == nullptr.
int nft(const ScopedCt* ct, const std::string& commands) {
  std::vector<std::string> argv{"nft", commands};
  if (ct) return ubc::test::host().exec(ct->id(), argv);
  std::string line = "nft '" + commands + "'";
  return std::system(line.c_str());
}

std::string rules(const std::string& table, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += "add rule inet " + table + " c counter; ";
  return text;
}

bool have_nft() {
  if (ubc::nf_tables_available() && ::access("/usr/sbin/nft", X_OK) == 0) return true;
  MESSAGE("SKIP numiptent: this kernel has no nf_tables or the host has no nft");
  return false;
}
}  // namespace

TEST_SUITE("numiptent") {
  TEST_CASE("a batch that would pass the limit is refused whole; rules counted exactly") {
    if (!have_nft()) return;
    ScopedCt ct("ipt-limit");
    REQUIRE(nft(&ct, "add table inet ipt_limit; add chain inet ipt_limit c") == 0);
    CHECK(ct.counter(UBC_NUMIPTENT).held == 0);  // tables and chains are not entries
    ct.set(UBC_NUMIPTENT, 5, 5);
    CHECK(nft(&ct, rules("ipt_limit", 3)) == 0);
    CHECK(ct.counter(UBC_NUMIPTENT).held == 3);
    CHECK(nft(&ct, rules("ipt_limit", 3)) != 0);  // 6 > 5: nothing of it applied
    ubc_counter counter = ct.counter(UBC_NUMIPTENT);
    CHECK(counter.held == 3);
    CHECK(counter.failcnt == 1);
    CHECK(nft(&ct, rules("ipt_limit", 2)) == 0);
    counter = ct.counter(UBC_NUMIPTENT);
    CHECK(counter.held == 5);
    CHECK(counter.maxheld == 5);
    CHECK(nft(&ct, "flush chain inet ipt_limit c") == 0);
    CHECK(wait_for_held(ct, UBC_NUMIPTENT, 0) == 0);
    CHECK(nft(&ct, "delete table inet ipt_limit") == 0);
  }

  TEST_CASE("an aborted batch charges nothing; rules deleted by the host are uncharged") {
    if (!have_nft()) return;
    ScopedCt ct("ipt-abort");
    REQUIRE(nft(&ct, "add table inet ipt_abort; add chain inet ipt_abort c") == 0);
    // The second command names a chain that does not exist: the kernel aborts the batch.
    CHECK(nft(&ct, "add rule inet ipt_abort c counter; add rule inet ipt_abort nochain counter") != 0);
    CHECK(ct.counter(UBC_NUMIPTENT).held == 0);
    CHECK(ct.counter(UBC_NUMIPTENT).failcnt == 0);
    CHECK(nft(&ct, rules("ipt_abort", 4)) == 0);
    CHECK(ct.counter(UBC_NUMIPTENT).held == 4);
    CHECK(nft(nullptr, "delete table inet ipt_abort") == 0);  // whoever deletes, the CT is uncharged
    CHECK(wait_for_held(ct, UBC_NUMIPTENT, 0) == 0);
  }

  TEST_CASE("set on a running CT: lowering below held refuses new rules and deletes none") {
    if (!have_nft()) return;
    ScopedCt ct("ipt-hotset");
    REQUIRE(nft(&ct, "add table inet ipt_hot; add chain inet ipt_hot c; " + rules("ipt_hot", 4)) == 0);
    CHECK(ct.counter(UBC_NUMIPTENT).held == 4);
    ct.set(UBC_NUMIPTENT, 2, 2);
    CHECK(nft(&ct, rules("ipt_hot", 1)) != 0);
    CHECK(ct.counter(UBC_NUMIPTENT).held == 4);
    ct.set(UBC_NUMIPTENT, UBC_UNLIMITED, UBC_UNLIMITED);
    CHECK(nft(&ct, rules("ipt_hot", 1)) == 0);
    CHECK(ct.counter(UBC_NUMIPTENT).held == 5);
    CHECK(nft(&ct, "delete table inet ipt_hot") == 0);
    CHECK(wait_for_held(ct, UBC_NUMIPTENT, 0) == 0);
  }

  TEST_CASE("16 racing nft processes never pass the limit") {
    if (!have_nft()) return;
    ScopedCt ct("ipt-race");
    REQUIRE(nft(&ct, "add table inet ipt_race; add chain inet ipt_race c") == 0);
    ct.set(UBC_NUMIPTENT, 50, 50);
    const std::string script =
        "for i in $(seq 16); do (for j in $(seq 8); do nft add rule inet ipt_race c counter 2>/dev/null; done) & "
        "done; wait";
    ubc::test::host().exec(ct.id(), {"bash", "-c", script});
    const ubc_counter counter = ct.counter(UBC_NUMIPTENT);
    CHECK(counter.held == 50);
    CHECK(counter.maxheld == 50);
    CHECK(counter.failcnt == 16 * 8 - 50);
    CHECK(nft(&ct, "delete table inet ipt_race") == 0);
    CHECK(wait_for_held(ct, UBC_NUMIPTENT, 0) == 0);
  }

  TEST_CASE("a batch longer than the engine's walk is refused whole, rules past the walk included") {
    if (!have_nft()) return;
    ScopedCt ct("ipt-long");
    ubc::test::Workload workload(ct);
    ct.set(UBC_NUMIPTENT, 0, 0);
    // 65536 no-ops fill the walk; the NEWRULE after them would go unreserved.
    CHECK(workload.ask("nlbatch 65536").at(0) == ENOMEM);
    CHECK(ct.counter(UBC_NUMIPTENT).failcnt == 1);
    CHECK(workload.ask("nlbatch 100").at(0) == ENOMEM);  // within the walk: the limit refuses it
    CHECK(ct.counter(UBC_NUMIPTENT).held == 0);
  }

  TEST_CASE("host rules are never charged or refused") {
    if (!have_nft()) return;
    ScopedCt ct("ipt-host");
    ct.set(UBC_NUMIPTENT, 0, 0);
    CHECK(nft(nullptr, "add table inet ipt_host; add chain inet ipt_host c; " + rules("ipt_host", 3)) == 0);
    CHECK(ct.counter(UBC_NUMIPTENT).held == 0);
    CHECK(ct.counter(UBC_NUMIPTENT).failcnt == 0);
    CHECK(nft(nullptr, "delete table inet ipt_host") == 0);
  }
}
