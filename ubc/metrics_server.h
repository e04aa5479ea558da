// ubcd's HTTP server (civetweb): GET /metrics answers with the last published snapshot and
// its age, never waiting for a collection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ubc/metrics_snapshot.h"

class CivetServer;

namespace ubc {

class MetricsServer {
 public:
  struct Options {
    std::string listen;             // ADDRESS:PORT, or ADDRESS:0 for a port of the kernel's choosing
    int threads = 8;                // enough that a few idle or slow clients leave the rest serving
    int request_timeout_ms = 5000;  // the longest a client that sends nothing holds a thread
  };
  // Serves until destroyed; throws std::runtime_error when it cannot listen.
  MetricsServer(const Options& options, const MetricsSnapshot& snapshot);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::vector<int> listening_ports() const;

 private:
  class Handler;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;
};

}  // namespace ubc
