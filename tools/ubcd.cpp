// ubcd: the host daemon. Serves the beancounters as Prometheus metrics, applies the CT
// config files to the live engine at start and on SIGHUP (all or nothing), and logs every
// refusal the engine reports. All state lives in the engine's pinned maps: ubcd can be
// restarted, or killed, at any time without losing a counter or a moment of enforcement.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "loader/refusal_events.h"
#include "ubc/containers.h"
#include "ubc/ct_config.h"
#include "ubc/engine_lifecycle.h"
#include "ubc/host.h"
#include "ubc/metrics.h"
#include "ubc/metrics_server.h"
#include "ubc/policy_reload.h"
#include "ubc/refusal_log.h"

namespace {

void log(const char* format, auto... args) {
  std::fprintf(stderr, "ubcd: ");
  std::fprintf(stderr, format, args...);
  std::fprintf(stderr, "\n");
}

void reload(ubc::Host& host, const char* why) {
  ubc::ReloadResult result;
  try {
    if (host.reopen_if_replaced()) log("%s: the engine was reloaded since; using the new one", why);
    result = ubc::reload_policy(host);
  } catch (const std::exception& error) {  // ubcd lives on: a reload is only ever refused
    result.error = error.what();
  }
  for (const auto& repair : result.repairs) log("%s: repaired: %s", why, repair.c_str());
  if (result.applied && !result.error.empty())
    log("%s: applied the config of %d CT(s); %s", why, result.cts, result.error.c_str());
  else if (result.applied)
    log("%s: applied the config of %d CT(s)", why, result.cts);
  else
    log("%s: refused, the running policy is unchanged: %s", why, result.error.c_str());
}

// Logs refusals with the CT's id, rate-limited per CT and resource, until `stop` is set.
void log_refusals(const ubc::HostPaths& paths, const std::atomic<bool>& stop) {
  ubc::Host host(paths);
  ubc::RefusalLog refusal_log([&](std::uint64_t cgroup_id) { return host.ctid_of_cgroup(cgroup_id); },
                              [](const std::string& line) { log("%s", line.c_str()); });
  auto open_reader = [&] {
    return std::make_unique<ubc::RefusalEventReader>(
        paths.pin_dir, [&](const ubc_refusal_event& event) { refusal_log.record(event); });
  };
  std::unique_ptr<ubc::RefusalEventReader> reader = open_reader();
  auto checked = std::chrono::steady_clock::now();
  while (!stop.load()) {
    if (reader)
      reader->poll(std::chrono::milliseconds(200));
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    refusal_log.flush();
    // After `ubcctl unload` and `load`, listen on the new engine's ring buffer.
    if (std::chrono::steady_clock::now() - checked < std::chrono::seconds(1)) continue;
    checked = std::chrono::steady_clock::now();
    if (reader && reader->is_pinned_in(paths.pin_dir)) continue;
    try {
      reader = open_reader();
      log("listening for refusals on the engine loaded since");
    } catch (const std::exception&) {
      reader.reset();  // no engine now: try again in a second
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ubcd: Prometheus metrics, hot policy reload and refusal logs for ubc's beancounters", "ubcd"};
  std::string listen = "127.0.0.1:9477";
  std::string pidfile = (ubc::run_dir() / "ubcd.pid").string();
  app.add_option("--listen", listen, "ADDRESS:PORT to serve /metrics on (default 127.0.0.1:9477)");
  app.add_option("--pidfile", pidfile, "Where to write the pid (ubcctl reload signals it)");
  double refresh_seconds = 5;
  app.add_option("--refresh", refresh_seconds,
                 "Seconds between two readings of every CT's figures (default 5; longer when one reading "
                 "takes over a tenth of it). A scrape serves the last reading; ubc_snapshot_age_seconds "
                 "says how old it is")
      ->check(CLI::Range(0.05, 3600.0));
  CLI11_PARSE(app, argc, argv);
  const auto refresh_period = std::chrono::milliseconds(static_cast<std::int64_t>(refresh_seconds * 1000));

  // Signals are taken synchronously by the main thread; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    const ubc::HostPaths paths = ubc::HostPaths::discover();
    ubc::Host host(paths);
    if (!host.engine_loaded()) {
      const ubc::BringUpReport report = ubc::bring_up_engine(host, ubc::CpuSchedulerChoice::automatic);
      if (report.remounted_nsdelegate)
        log("remounted the cgroup2 hierarchy with nsdelegate: a CT cannot write its own cgroup limits");
      log("loaded the engine into %s", paths.pin_dir.c_str());
      if (report.device_rules_restored) log("device rules restored for %d running CT(s)", report.device_rules_restored);
      log("CPU policy: %s", report.cpu_policy.c_str());
    }
    reload(host, "start");

    ubc::MetricsSnapshot snapshot;
    ubc::MetricsCollector collector(paths, snapshot, refresh_period,
                                    [](const std::string& line) { log("%s", line.c_str()); });
    std::unique_ptr<ubc::MetricsServer> server;
    try {
      server = std::make_unique<ubc::MetricsServer>(ubc::MetricsServer::Options{.listen = listen}, snapshot);
    } catch (const std::exception& error) {
      log("%s: is the port taken?", error.what());
      return 1;
    }
    log("serving http://%s/metrics, figures read every %.3g s", listen.c_str(), refresh_seconds);

    std::filesystem::create_directories(std::filesystem::path(pidfile).parent_path());
    std::ofstream(pidfile) << ::getpid() << "\n";
    std::atomic<bool> stop{false};
    std::thread refusals([&] { log_refusals(paths, stop); });
    // Whatever ends main, the reader thread is stopped and joined, never destroyed running.
    struct JoinAtExit {
      std::atomic<bool>& stop;
      std::thread& thread;
      ~JoinAtExit() {
        stop = true;
        if (thread.joinable()) thread.join();
      }
    } join_at_exit{stop, refusals};

    for (;;) {
      int signal = 0;
      if (sigwait(&signals, &signal)) continue;
      if (signal == SIGHUP) {
        reload(host, "SIGHUP");
        collector.refresh_now();
        continue;
      }
      log("signal %d: stopping (the engine stays loaded)", signal);
      break;
    }
    std::filesystem::remove(pidfile);
    return 0;
  } catch (const std::exception& error) {
    log("%s", error.what());
    return 1;
  }
}
