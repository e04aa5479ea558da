// The Prometheus view of the host: every CT's beancounters, CPU time and throttling, the
// scheduler in use and the engine's state, read from the pinned maps (so a restarted daemon
// reports exactly what the kernel counted meanwhile). ubcd serves it as a snapshot
// (metrics_snapshot.h).
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ubc/host.h"
#include "ubc/metrics_snapshot.h"

namespace ubc {

inline constexpr const char* kUbcVersion = "0.4.0";

// Every family, from one whole-host read (Host::usage_of_all). After an unload and load
// under it, reads the new engine.
std::vector<prometheus::MetricFamily> collect_metrics(Host& host);

// Publishes collect_metrics into a snapshot from a thread of its own: once before the
// constructor returns (the first scrape has figures), then every `period` (longer when a
// reading takes over a tenth of it), and at once after refresh_now(). A collection that fails is logged and leaves the
// last snapshot served: its age grows, and says so.
class MetricsCollector {
 public:
  using Log = std::function<void(const std::string&)>;
  MetricsCollector(HostPaths paths, MetricsSnapshot& snapshot, std::chrono::milliseconds period, Log log);
  ~MetricsCollector();  // stops and joins the thread
  MetricsCollector(const MetricsCollector&) = delete;
  MetricsCollector& operator=(const MetricsCollector&) = delete;

  // After a policy reload: the new limits are served without waiting out the period.
  void refresh_now();

 private:
  void collect();
  void run();

  Host host_;
  MetricsSnapshot& snapshot_;
  const std::chrono::milliseconds period_;
  const Log log_;
  std::string last_error_;
  std::chrono::steady_clock::duration last_collect_time_{};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool wanted_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ubc
