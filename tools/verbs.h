// ubcctl's verbs. Each add_*_verbs registers its subcommands with CLI11; the one the user
// typed leaves its action in `chosen`, which main runs once parsing is done.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>

#include "ubc/containers.h"
#include "ubc/host.h"

namespace ubc::cli {

// What a verb acts on: the host, opened on first use (plain `doctor` runs where there is
// none), and its containers.
class Session {
 public:
  Host& host() {
    if (!host_) host_.emplace(HostPaths::discover());
    return *host_;
  }
  Containers& containers() {
    if (!containers_) containers_.emplace(host());
    return *containers_;
  }

 private:
  std::optional<Host> host_;
  std::optional<Containers> containers_;
};

// A verb's work; returns the exit status.
using Action = std::function<int(Session&)>;

// load, sched, unload, doctor, reload.
void add_engine_verbs(CLI::App& app, Action& chosen);
// show, events, list.
void add_report_verbs(CLI::App& app, Action& chosen);
// create, destroy, start, stop, restart, status, enter, exec, clone.
void add_lifecycle_verbs(CLI::App& app, Action& chosen);
// set.
void add_set_verb(CLI::App& app, Action& chosen);

}  // namespace ubc::cli
