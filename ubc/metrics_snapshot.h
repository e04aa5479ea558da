// What ubcd serves at /metrics: the text of the last collection of every CT's figures,
// formatted once and handed to every scrape until the next, so that a scrape costs a copy
// whatever the number of CTs (Prometheus' advice for expensive collectors). Its age and the
// time the collection took are appended to each answer as metrics of their own.
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ubc {

struct MetricsText {
  std::string body;  // Prometheus' text exposition format, 0.0.4
  std::chrono::steady_clock::time_point collected;
  std::chrono::duration<double> collect_time{};
};

// Shared by the collecting thread (publish) and the HTTP server's threads (latest).
class MetricsSnapshot {
 public:
  // Formats `families`, read starting at `collected`, as the text every scrape gets from now.
  void publish(const std::vector<prometheus::MetricFamily>& families, std::chrono::steady_clock::time_point collected);
  // The last text published, or null before the first.
  std::shared_ptr<const MetricsText> latest() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const MetricsText> latest_;
};

// The families appended to a scrape served at `now`: ubc_snapshot_age_seconds and
// ubc_snapshot_duration_seconds.
std::string snapshot_trailer(const MetricsText& text, std::chrono::steady_clock::time_point now);

}  // namespace ubc
