#include "ubc/metrics_snapshot.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace ubc {

void MetricsSnapshot::publish(const std::vector<prometheus::MetricFamily>& families,
                              std::chrono::steady_clock::time_point collected) {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families);
  auto published = std::make_shared<MetricsText>();
  published->body = std::move(text).str();
  published->collected = collected;
  published->collect_time = std::chrono::steady_clock::now() - collected;
  std::lock_guard lock(mutex_);
  latest_ = std::move(published);
}

std::shared_ptr<const MetricsText> MetricsSnapshot::latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

std::string snapshot_trailer(const MetricsText& text, std::chrono::steady_clock::time_point now) {
  const std::chrono::duration<double> age = now - text.collected;
  prometheus::MetricFamily age_family{"ubc_snapshot_age_seconds",
                                      "How long ago the figures of this scrape were read from the kernel",
                                      prometheus::MetricType::Gauge,
                                      {}};
  age_family.metric.emplace_back().gauge.value = age.count();
  prometheus::MetricFamily duration_family{"ubc_snapshot_duration_seconds",
                                           "How long reading and formatting the figures of this scrape took",
                                           prometheus::MetricType::Gauge,
                                           {}};
  duration_family.metric.emplace_back().gauge.value = text.collect_time.count();
  return prometheus::TextSerializer().Serialize({age_family, duration_family});
}

}  // namespace ubc
