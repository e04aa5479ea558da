// ubcctl's verbs. Each add_*_verbs registers its subcommands with CLI11; the one the user
// typed leaves its action in `chosen`, which main runs once parsing is done.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

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

// Which verbs to register. CLI11 builds every option of every verb it is given, which was
// half of ubcctl's start-up (about 2 million instructions, the `set` verb's 40 options most
// of it): a command line that names a verb registers that verb only.
class VerbFilter {
 public:
  VerbFilter() = default;  // every verb: help, or a name no verb has
  explicit VerbFilter(std::string typed) : typed_(std::move(typed)) {}
  bool wants(std::string_view verb) const { return typed_.empty() || typed_ == verb; }

 private:
  std::string typed_;
};

// load, sched, unload, doctor, reload.
void add_engine_verbs(CLI::App& app, Action& chosen, const VerbFilter& filter);
// show, events, list.
void add_report_verbs(CLI::App& app, Action& chosen, const VerbFilter& filter);
// create, destroy, start, stop, restart, status, enter, exec, console, quota, clone, chkpnt, restore.
void add_lifecycle_verbs(CLI::App& app, Action& chosen, const VerbFilter& filter);
// set.
void add_set_verb(CLI::App& app, Action& chosen, const VerbFilter& filter);

}  // namespace ubc::cli
