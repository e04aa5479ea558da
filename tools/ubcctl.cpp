// ubcctl: OpenVZ-style control of ubc's containers and beancounters. Parses arguments and
// prints; the work lives in ubc/ and loader/. Each verb is registered in tools/*_verbs.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <stdexcept>

#include "tools/verbs.h"
#include "ubc/ct_config.h"

int main(int argc, char** argv) {
  CLI::App app{
      "ubcctl: OpenVZ-style beancounters for containers, on BPF LSM.\n"
      "A CT (container) is a cgroup v2 directory that ubc owns; the engine must be loaded first.",
      "ubcctl"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  ubc::cli::Action chosen;
  ubc::cli::add_engine_verbs(app, chosen);
  ubc::cli::add_lifecycle_verbs(app, chosen);
  ubc::cli::add_set_verb(app, chosen);
  ubc::cli::add_report_verbs(app, chosen);
  CLI11_PARSE(app, argc, argv);

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
