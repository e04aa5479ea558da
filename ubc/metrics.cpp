#include "ubc/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "loader/cgroup.h"
#include "sched/cpu_cgroup.h"
#include "ubc/cpu_settings.h"
#include "ubc/disk_quota.h"
#include "ubc/proc_files.h"

namespace ubc {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(const std::string& name, const std::string& help, MetricType type) {
  return MetricFamily{name, help, type, {}};
}

void add(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == MetricType::Counter)
    metric.counter.value = value;
  else
    metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

// Pages and bytes rows are reported in bytes, counts as counts, unlimited as +Inf.
double in_base_unit(const ResourceInfo& info, std::uint64_t value, bool threshold) {
  if (threshold && value >= UBC_UNLIMITED) return std::numeric_limits<double>::infinity();
  const double scale = info.unit == Unit::pages ? static_cast<double>(::sysconf(_SC_PAGESIZE)) : 1.0;
  return static_cast<double>(value) * scale;
}

std::map<std::string, std::uint64_t> cpu_stat(const std::filesystem::path& cgroup) {
  std::map<std::string, std::uint64_t> values;
  std::ifstream in(cgroup / "cpu.stat");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) values[key] = value;
  return values;
}

// io.pressure's "some" line: how long at least one task waited for I/O, in microseconds.
std::optional<std::uint64_t> io_stalled_usec(const std::filesystem::path& cgroup) {
  const auto text = cgroup::read_if_exists(cgroup / "io.pressure");
  if (!text || !text->starts_with("some ")) return std::nullopt;
  const auto total = text->find("total=");
  if (total == std::string::npos) return std::nullopt;
  return std::strtoull(text->c_str() + total + 6, nullptr, 10);
}

// A CT's I/O from its io.stat, all devices summed, and its I/O stall time.
struct IoFamilies {
  MetricFamily read_bytes =
      family("ubc_io_read_bytes_total", "Bytes the CT read from block devices", MetricType::Counter);
  MetricFamily written_bytes =
      family("ubc_io_written_bytes_total", "Bytes the CT wrote to block devices", MetricType::Counter);
  MetricFamily reads =
      family("ubc_io_reads_total", "Read requests of the CT that block devices completed", MetricType::Counter);
  MetricFamily writes =
      family("ubc_io_writes_total", "Write requests of the CT that block devices completed", MetricType::Counter);
  MetricFamily stalled = family("ubc_io_stalled_seconds_total",
                                "Time at least one of the CT's tasks waited for I/O (io.pressure some), time held "
                                "back by iolimit and iopslimit included; the kernel counts no io.max throttle time",
                                MetricType::Counter);

  void add_ct(const std::string& ctid, const std::filesystem::path& cgroup) {
    const auto text = cgroup::read_if_exists(cgroup / "io.stat");
    if (!text) return;  // no io controller: no I/O figures, rather than zeros
    proc_files::IoCounts sum;
    for (const auto& [device, counts] : proc_files::parse_io_stat(*text)) {
      sum.rbytes += counts.rbytes;
      sum.wbytes += counts.wbytes;
      sum.rios += counts.rios;
      sum.wios += counts.wios;
    }
    add(read_bytes, {{"ct", ctid}}, static_cast<double>(sum.rbytes));
    add(written_bytes, {{"ct", ctid}}, static_cast<double>(sum.wbytes));
    add(reads, {{"ct", ctid}}, static_cast<double>(sum.rios));
    add(writes, {{"ct", ctid}}, static_cast<double>(sum.wios));
    if (const auto usec = io_stalled_usec(cgroup)) add(stalled, {{"ct", ctid}}, static_cast<double>(*usec) / 1e6);
  }
  void move_into(std::vector<MetricFamily>& families) {
    for (MetricFamily* built : {&read_bytes, &written_bytes, &reads, &writes, &stalled})
      families.push_back(std::move(*built));
  }
};

// A CT's disk quota, as its filesystem counts it (CTs without one have no series).
struct DiskFamilies {
  MetricFamily used =
      family("ubc_disk_used_bytes", "Bytes the CT's files hold (its project quota's use)", MetricType::Gauge);
  MetricFamily limit =
      family("ubc_disk_limit_bytes", "The CT's diskspace limits (kind soft or hard; +Inf = none)", MetricType::Gauge);
  MetricFamily inodes = family("ubc_disk_inodes_used", "Inodes the CT's files hold", MetricType::Gauge);
  MetricFamily inode_limit =
      family("ubc_disk_inode_limit", "The CT's diskinodes limits (kind soft or hard; +Inf = none)", MetricType::Gauge);
  MetricFamily over_soft = family("ubc_disk_over_soft_limit",
                                  "1 while the CT is past a soft limit (resource diskspace or diskinodes), its grace "
                                  "running or spent",
                                  MetricType::Gauge);

  void add_ct(Host& host, const std::string& ctid) {
    try {
      const CtConfig config = CtConfig::load(host.config_path(ctid));
      const auto project = disk_quota_project(config);
      if (!project) return;
      const auto usage = disk_quota_usage(CtSettings::from(config), *project);
      auto or_infinity = [](std::uint64_t value, double unit) {
        return value == 0 ? std::numeric_limits<double>::infinity() : static_cast<double>(value) * unit;
      };
      add(used, {{"ct", ctid}}, static_cast<double>(usage.bytes));
      add(limit, {{"ct", ctid}, {"kind", "soft"}}, or_infinity(usage.limits.block_soft, 1024));
      add(limit, {{"ct", ctid}, {"kind", "hard"}}, or_infinity(usage.limits.block_hard, 1024));
      add(inodes, {{"ct", ctid}}, static_cast<double>(usage.inodes));
      add(inode_limit, {{"ct", ctid}, {"kind", "soft"}}, or_infinity(usage.limits.inode_soft, 1));
      add(inode_limit, {{"ct", ctid}, {"kind", "hard"}}, or_infinity(usage.limits.inode_hard, 1));
      add(over_soft, {{"ct", ctid}, {"resource", "diskspace"}}, usage.block_grace_end != 0 ? 1 : 0);
      add(over_soft, {{"ct", ctid}, {"resource", "diskinodes"}}, usage.inode_grace_end != 0 ? 1 : 0);
    } catch (const std::exception&) {
      // A CT destroyed or its filesystem gone while we looked: no series, rather than stale ones.
    }
  }
  void move_into(std::vector<MetricFamily>& families) {
    for (MetricFamily* built : {&used, &limit, &inodes, &inode_limit, &over_soft})
      families.push_back(std::move(*built));
  }
};

}  // namespace

std::vector<MetricFamily> collect_metrics(Host& host) {
  std::vector<MetricFamily> families;
  const bool loaded = host.engine_loaded();
  if (loaded) host.reopen_if_replaced();  // the engine reloaded since: read the new one

  auto build = family("ubc_build_info", "ubc's version; always 1", MetricType::Gauge);
  add(build, {{"version", kUbcVersion}}, 1);
  auto engine = family("ubc_engine_loaded", "1 when the BPF engine is attached and pinned, else 0", MetricType::Gauge);
  add(engine, {}, loaded ? 1 : 0);
  auto scheduler =
      family("ubc_cpu_scheduler_info", "The CPU scheduler enforcing the CPU policy; always 1", MetricType::Gauge);
  add(scheduler, {{"scheduler", sched::active_cpu_scheduler()}}, 1);

  // One family per figure and unit: counts and bytes never mix.
  struct Figure {
    const char* name;
    const char* help;
    __u64 ubc_counter::*field;
    bool threshold;
  };
  const Figure figures[] = {
      {"held", "What the CT holds now", &ubc_counter::held, false},
      {"maxheld", "The most the CT held since it was registered", &ubc_counter::maxheld, false},
      {"barrier", "OpenVZ's barrier (+Inf = unlimited)", &ubc_counter::barrier, true},
      {"limit", "OpenVZ's limit (+Inf = unlimited)", &ubc_counter::limit, true},
  };
  std::map<std::string, MetricFamily> by_name;
  auto family_for = [&](const Figure& figure, bool bytes) -> MetricFamily& {
    const std::string name = std::string("ubc_resource_") + figure.name + (bytes ? "_bytes" : "");
    auto found = by_name.find(name);
    if (found == by_name.end())
      found = by_name
                  .emplace(name, family(name,
                                        std::string(figure.help) +
                                            (bytes ? ", in bytes (page rows converted)" : ", for count rows"),
                                        MetricType::Gauge))
                  .first;
    return found->second;
  };
  auto failures = family("ubc_resource_failures_total", "Refused allocations (OpenVZ's failcnt)", MetricType::Counter);
  auto cpu_usage = family("ubc_cpu_usage_seconds_total", "CPU time the CT's tasks used", MetricType::Counter);
  auto cpu_throttled =
      family("ubc_cpu_throttled_seconds_total", "Time the CT was held back by its cpulimit", MetricType::Counter);
  IoFamilies io;
  DiskFamilies disk;

  if (loaded) {
    // CTs destroyed while we looked, or not registered, get no (stale) figures.
    for (const ContainerUsage& usage : host.usage_of_all().containers) {
      const std::string& ctid = usage.id;
      for (const auto& row : usage.resources) {
        const bool bytes = row.resource->unit != Unit::count;
        const std::vector<ClientMetric::Label> labels{{"ct", ctid}, {"resource", std::string(row.resource->name)}};
        for (const auto& figure : figures)
          add(family_for(figure, bytes), labels,
              in_base_unit(*row.resource, row.counter.*figure.field, figure.threshold));
        add(failures, labels, static_cast<double>(row.counter.failcnt));
      }
      const auto stat = cpu_stat(host.cgroup_of(ctid));
      if (auto found = stat.find("usage_usec"); found != stat.end())
        add(cpu_usage, {{"ct", ctid}}, static_cast<double>(found->second) / 1e6);
      if (auto found = stat.find("throttled_usec"); found != stat.end())
        add(cpu_throttled, {{"ct", ctid}}, static_cast<double>(found->second) / 1e6);
      io.add_ct(ctid, host.cgroup_of(ctid));
      disk.add_ct(host, ctid);
    }
  }
  families.push_back(std::move(build));
  families.push_back(std::move(engine));
  families.push_back(std::move(scheduler));
  for (auto& [name, built] : by_name) families.push_back(std::move(built));
  families.push_back(std::move(failures));
  families.push_back(std::move(cpu_usage));
  families.push_back(std::move(cpu_throttled));
  io.move_into(families);
  disk.move_into(families);
  return families;
}

MetricsCollector::MetricsCollector(HostPaths paths, MetricsSnapshot& snapshot, std::chrono::milliseconds period,
                                   Log log)
    : host_(std::move(paths)), snapshot_(snapshot), period_(period), log_(std::move(log)) {
  collect();
  thread_ = std::thread([this] { run(); });
}

MetricsCollector::~MetricsCollector() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void MetricsCollector::refresh_now() {
  {
    std::lock_guard lock(mutex_);
    wanted_ = true;
  }
  wake_.notify_one();
}

void MetricsCollector::collect() {
  const auto started = std::chrono::steady_clock::now();
  try {
    snapshot_.publish(collect_metrics(host_), started);
    last_collect_time_ = std::chrono::steady_clock::now() - started;
    if (!last_error_.empty()) log_("collecting figures again, after: " + last_error_);
    last_error_.clear();
  } catch (const std::exception& error) {
    // Once per distinct failure, not once per period.
    if (error.what() != last_error_) log_(std::string("cannot collect figures, serving older ones: ") + error.what());
    last_error_ = error.what();
  }
}

void MetricsCollector::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // Reading never takes more than a tenth of a CPU, however many CTs there are: a
    // reading that took T waits at least 9 T for the next (refresh_now() does not).
    const auto rest = std::max<std::chrono::steady_clock::duration>(period_, 9 * last_collect_time_);
    wake_.wait_for(lock, rest, [this] { return stopping_ || wanted_; });
    if (stopping_) break;
    wanted_ = false;
    lock.unlock();
    collect();
    lock.lock();
  }
}

}  // namespace ubc
