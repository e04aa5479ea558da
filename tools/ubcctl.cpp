// ubcctl: OpenVZ-style control of ubc's containers and beancounters. Parses arguments and
// prints; the work lives in ubc/ and loader/. Each verb is registered in tools/*_verbs.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "tools/verbs.h"
#include "ubc/ct_config.h"

namespace {

std::unique_ptr<CLI::App> make_app(ubc::cli::Action& chosen, const ubc::cli::VerbFilter& filter) {
  auto app = std::make_unique<CLI::App>(
      "ubcctl: OpenVZ-style beancounters for containers, on BPF LSM.\n"
      "A CT (container) is a cgroup v2 directory that ubc owns; the engine must be loaded first.",
      "ubcctl");
  app->require_subcommand(1);
  app->set_help_all_flag("--help-all", "Show help for every subcommand");
  ubc::cli::add_engine_verbs(*app, chosen, filter);
  ubc::cli::add_lifecycle_verbs(*app, chosen, filter);
  ubc::cli::add_set_verb(*app, chosen, filter);
  ubc::cli::add_report_verbs(*app, chosen, filter);
  return app;
}

}  // namespace

int main(int argc, char** argv) {
  ubc::cli::Action chosen;
  std::unique_ptr<CLI::App> app;
  if (argc > 1 && argv[1][0] != '-') app = make_app(chosen, ubc::cli::VerbFilter(argv[1]));
  // No verb named, or a name no verb has: all of them, for the help or the error.
  if (!app || app->get_subcommands([](CLI::App*) { return true; }).empty())
    app = make_app(chosen, ubc::cli::VerbFilter());
  CLI11_PARSE(*app, argc, argv);

  // Exit statuses: 2 for a bad request (nothing changed), 1 for any other failure.
  try {
    ubc::cli::Session session;
    return chosen(session);
  } catch (const ubc::ConfigError& error) {
    std::fprintf(stderr, "ubcctl: %s\n", error.what());
    return 1;
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "ubcctl: %s\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubcctl: %s\n", error.what());
    return 1;
  }
}
