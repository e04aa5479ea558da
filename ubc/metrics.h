// The Prometheus view of the host: every CT's beancounters, CPU time and throttling, the
// scheduler in use and the engine's state, built at scrape time from the pinned maps (so a
// restarted daemon reports exactly what the kernel counted meanwhile).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <mutex>
#include <vector>

#include "ubc/host.h"

namespace ubc {

inline constexpr const char* kUbcVersion = "0.4.0";

class MetricsCollector : public prometheus::Collectable {
 public:
  explicit MetricsCollector(HostPaths paths) : host_(std::move(paths)) {}
  // Called from the HTTP server's threads; one scrape at a time reads the host.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mutex_;
  mutable Host host_;
};

}  // namespace ubc
