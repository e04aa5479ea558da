// numtcpsock and numothersock in a real kernel: one case per promise of docs/RESOURCES.md.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "loader/unique_fd.h"
#include "workload.h"

using ubc::test::ScopedCt;
using ubc::test::wait_for_held;
using ubc::test::Workload;

namespace {
// A non-blocking connect from the host to 127.0.0.1:port.
ubc::UniqueFd connect_to(int port) {
  ubc::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  return fd;
}
}  // namespace

TEST_SUITE("sockets") {
  TEST_CASE("TCP sockets: refused past the barrier with ENOBUFS, exact counters, back to 0") {
    ScopedCt ct("sock-tcp");
    ct.set(UBC_NUMTCPSOCK, 10, 10);
    Workload workload(ct);
    const auto reply = workload.ask("sock 0 tcp");
    CHECK(reply.at(0) == 10);
    CHECK(reply.at(1) == ENOBUFS);
    const ubc_counter full = ct.counter(UBC_NUMTCPSOCK);
    CHECK(full.held == 10);
    CHECK(full.maxheld == 10);
    CHECK(full.failcnt == 1);
    CHECK(ct.counter(UBC_NUMOTHERSOCK).held == 0);  // TCP only in numtcpsock
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_NUMTCPSOCK, 0) == 0);
  }

  TEST_CASE("UDP and AF_UNIX sockets are numothersock; AF_UNIX is refused with ENOMEM") {
    ScopedCt ct("sock-other");
    Workload workload(ct);
    CHECK(workload.ask("sock 3 udp").at(0) == 3);
    CHECK(workload.ask("sock 2 unix").at(0) == 2);
    CHECK(ct.counter(UBC_NUMOTHERSOCK).held == 5);
    CHECK(ct.counter(UBC_NUMTCPSOCK).held == 0);
    ct.set(UBC_NUMOTHERSOCK, 6, 6);
    auto reply = workload.ask("sock 0 unix");
    CHECK(reply.at(0) == 1);
    CHECK(reply.at(1) == ENOMEM);
    reply = workload.ask("sock 0 udp");
    CHECK(reply.at(0) == 0);
    CHECK(reply.at(1) == ENOBUFS);
    CHECK(ct.counter(UBC_NUMOTHERSOCK).failcnt == 2);
    CHECK(ct.counter(UBC_NUMOTHERSOCK).maxheld == 6);
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_NUMOTHERSOCK, 0) == 0);
  }

  TEST_CASE("the server end of an AF_UNIX connection is charged to the listener's CT") {
    ScopedCt ct("sock-unixconn");
    ct.set(UBC_NUMOTHERSOCK, 21, 21);
    Workload workload(ct);
    // A listener, then pairs of (client, server end): 1 + 2 x 10 = 21.
    const auto reply = workload.ask("unixconn 0");
    CHECK(reply.at(0) == 10);
    CHECK(reply.at(1) == ENOMEM);
    CHECK(ct.counter(UBC_NUMOTHERSOCK).held == 21);
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_NUMOTHERSOCK, 0) == 0);
  }

  TEST_CASE("accepted TCP connections are charged to the listener's CT; SYNs past the barrier are dropped") {
    ScopedCt ct("sock-accept");
    ct.set(UBC_NUMTCPSOCK, 4, 4);
    Workload workload(ct);
    const int port = static_cast<int>(workload.ask("listen").at(0));
    REQUIRE(port > 0);
    std::vector<ubc::UniqueFd> clients;
    for (int i = 0; i < 5; ++i) clients.push_back(connect_to(port));  // host sockets: not charged
    // Three children fit beside the listener; the other SYNs are dropped (and retried).
    CHECK(wait_for_held(ct, UBC_NUMTCPSOCK, 4) == 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const ubc_counter counter = ct.counter(UBC_NUMTCPSOCK);
    CHECK(counter.held == 4);
    CHECK(counter.maxheld == 4);
    CHECK(counter.failcnt >= 2);
    clients.clear();
    CHECK(workload.finish() == 0);
    CHECK(wait_for_held(ct, UBC_NUMTCPSOCK, 0, std::chrono::seconds(20)) == 0);
  }

  TEST_CASE("socket buffer rows hold the bytes queued in the CT's sockets, and 0 when they close") {
    ScopedCt ct("sock-bufs");
    Workload workload(ct);
    CHECK(workload.ask("sockbufs 20000").at(0) == 0);
    // The kernel charges buffers by skb truesize: at least the payload, never less.
    CHECK(wait_for_held(ct, UBC_TCPSNDBUF, 0) == 0);  // acknowledged at once over loopback
    CHECK(ct.counter(UBC_TCPRCVBUF).held >= 20000);
    CHECK(ct.counter(UBC_OTHERSOCKBUF).held >= 20000);
    CHECK(ct.counter(UBC_DGRAMRCVBUF).held >= 20000);
    CHECK(ct.counter(UBC_TCPRCVBUF).maxheld >= 20000);
    workload.ask("closeall");
    for (ubc_resource row : {UBC_TCPSNDBUF, UBC_TCPRCVBUF, UBC_OTHERSOCKBUF, UBC_DGRAMRCVBUF}) {
      CAPTURE(row);
      CHECK(wait_for_held(ct, row, 0) == 0);
    }
    CHECK(workload.finish() == 0);
  }

  TEST_CASE("host sockets are never charged or refused") {
    ScopedCt ct("sock-host");
    ct.set(UBC_NUMTCPSOCK, 0, 0);
    ct.set(UBC_NUMOTHERSOCK, 0, 0);
    ubc::UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ubc::UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    CHECK(tcp);
    CHECK(udp);
    CHECK(ct.counter(UBC_NUMTCPSOCK).held == 0);
    CHECK(ct.counter(UBC_NUMOTHERSOCK).failcnt == 0);
  }
}
