// ubcctl's container verbs, named and spelled as vzctl's: create, destroy, start, stop,
// restart, status, enter, exec, clone, chkpnt and set.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tools/ct_commands.h"
#include "tools/verbs.h"
#include "ubc/ct_set.h"
#include "ubc/resource_table.h"

namespace ubc::cli {

namespace {

// A verb that takes a CT id and nothing else.
template <typename Run>
void add_ct_verb(CLI::App& app, Action& chosen, const char* name, const char* help, Run run) {
  auto ctid = std::make_shared<std::string>();
  auto* verb = app.add_subcommand(name, help);
  verb->add_option("CT", *ctid, "CT id")->required();
  verb->callback([&chosen, ctid, run] { chosen = [ctid, run](Session& session) { return run(session, *ctid); }; });
}

struct CreateArguments {
  std::string ctid, root, private_area, ostemplate, hostname, init, cgroup, userns;
  std::vector<std::string> ip_addresses;
  bool userns_given = false;
};

CreateOptions create_options_from(const CreateArguments& arguments) {
  CreateOptions options;
  options.ip_addresses = arguments.ip_addresses;
  if (!arguments.root.empty()) options.root = arguments.root;
  if (!arguments.private_area.empty()) options.private_area = arguments.private_area;
  if (!arguments.ostemplate.empty()) options.ostemplate = arguments.ostemplate;
  if (!arguments.hostname.empty()) options.hostname = arguments.hostname;
  if (!arguments.init.empty()) options.init = arguments.init;
  if (!arguments.cgroup.empty()) options.cgroup = arguments.cgroup;
  if (options.root && options.ostemplate)
    throw std::invalid_argument("create: --root and --ostemplate exclude each other");
  if (!arguments.userns_given) return options;
  if (arguments.userns != "" && arguments.userns != "yes" && arguments.userns != "no")
    throw std::invalid_argument("create --userns takes yes or no, not '" + arguments.userns + "'");
  options.user_namespace = arguments.userns != "no";
  if (arguments.userns == "no")
    std::fprintf(stderr,
                 "ubcctl: warning: CT %s will run without a user namespace: its root is the host's root, "
                 "kept in only by capabilities, seccomp and masked paths\n",
                 arguments.ctid.c_str());
  return options;
}

void add_create(CLI::App& app, Action& chosen) {
  auto arguments = std::make_shared<CreateArguments>();
  auto* verb = app.add_subcommand("create", "Create a CT: its cgroup, beancounters, config and files");
  verb->add_option("CT", arguments->ctid, "CT id (e.g. 101)")->required();
  verb->add_option("--root", arguments->root, "Use this directory as the CT's root filesystem, as it is");
  verb->add_option("--private", arguments->private_area,
                   "Where to unpack --ostemplate (default /var/lib/ubc/private/CT)");
  verb->add_option("--ostemplate", arguments->ostemplate,
                   "A template's name (in /var/lib/ubc/templates: ubc-mkrootfs --dist makes them) "
                   "or a root filesystem tarball, unpacked as the CT's files");
  verb->add_option("--hostname", arguments->hostname, "The CT's hostname (default: its id)");
  verb->add_option("--ipadd", arguments->ip_addresses, "An IPv4 or IPv6 address for the CT (repeatable)");
  verb->add_option("--init", arguments->init, "The CT's init command (default /sbin/init)");
  verb->add_option("--cgroup", arguments->cgroup,
                   "Put beancounters on this existing cgroup (Docker, Podman, systemd), without moving it");
  verb->add_option("--userns", arguments->userns,
                   "yes (default): run the CT in a user namespace with a host uid range of its own; "
                   "no: its root is the host's root (warned)")
      ->expected(0, 1);
  verb->callback([&chosen, arguments, verb] {
    arguments->userns_given = verb->count("--userns") > 0;
    chosen = [arguments](Session& session) {
      session.containers().create(arguments->ctid, create_options_from(*arguments));
      return 0;
    };
  });
}

void add_destroy(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid;
    bool force = false;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("destroy", "Destroy a CT: its cgroup, counters, config, and files ubc made");
  verb->add_option("CT", options->ctid, "CT id")->required();
  verb->add_flag("--force", options->force, "Stop it first if it runs");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      session.containers().destroy(options->ctid, options->force);
      return 0;
    };
  });
}

void add_exec(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid;
    std::vector<std::string> command;
    bool every_ct = false;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("exec", "Run a command inside a CT: ubcctl exec CT|--all -- CMD [ARG]...");
  verb->add_flag("--all", options->every_ct, "In every running CT");
  verb->add_option("CT", options->ctid, "CT id (not with --all)");
  verb->add_option("command", options->command, "Command and arguments, after --");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      auto command = options->command;
      if (options->every_ct) {
        // With --all there is no CT id: the first word the parser gave it is the command's.
        if (!options->ctid.empty()) command.insert(command.begin(), options->ctid);
        if (command.empty()) throw std::invalid_argument("exec --all: give a command after --");
        return exec_all(session.host(), session.containers(), command);
      }
      if (options->ctid.empty() || command.empty())
        throw std::invalid_argument("exec: give a CT id (or --all) and a command after --");
      return session.containers().exec(options->ctid, command);
    };
  });
}

void add_start(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid, init;
    bool every_ct = false, force = false;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("start", "Start a CT: its init as PID 1 in namespaces of its own");
  verb->add_option("CT", options->ctid, "CT id");
  verb->add_flag("--all", options->every_ct, "Every CT whose config says ONBOOT=\"yes\"");
  verb->add_option("--init", options->init, "Run this init (saved in the config)");
  verb->add_flag("--force", options->force,
                 "Start even without the engine loaded (no beancounters, device rules, bpf() denial)");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      if (options->every_ct) return start_all(session.host(), session.containers());
      if (options->ctid.empty()) throw std::invalid_argument("start: give a CT id or --all");
      if (!options->init.empty()) {
        CtSettingChanges init_change;
        init_change.init = options->init;
        apply_setting_changes(session.host(), options->ctid, init_change);
      }
      start(session.containers(), options->ctid, options->force);
      return 0;
    };
  });
}

void add_stop_and_restart(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid;
    int timeout = 10;
    bool force = false;
  };
  auto options = std::make_shared<Options>();
  auto* stop = app.add_subcommand(
      "stop", "Stop a CT: ask its init to halt (SIGRTMIN+3 to systemd, else SIGTERM), SIGKILL to all after --timeout");
  auto* restart = app.add_subcommand("restart", "Stop and start a CT");
  for (auto* verb : {stop, restart}) {
    verb->add_option("CT", options->ctid, "CT id")->required();
    verb->add_option("--timeout", options->timeout, "Seconds to wait for init before killing (default 10)");
  }
  restart->add_flag("--force", options->force, "Start even without the engine loaded");
  stop->callback([&chosen, options] {
    chosen = [options](Session& session) {
      session.containers().stop(options->ctid, std::chrono::seconds(options->timeout));
      return 0;
    };
  });
  restart->callback([&chosen, options] {
    chosen = [options](Session& session) {
      Containers& containers = session.containers();
      if (containers.status(options->ctid).running)
        containers.stop(options->ctid, std::chrono::seconds(options->timeout));
      start(containers, options->ctid, options->force);
      return 0;
    };
  });
}

void add_clone(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid, new_ctid;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("clone", "Copy a CT's files and config under a new id (without its addresses)");
  verb->add_option("CT", options->ctid, "CT id")->required();
  verb->add_option("NEWCT", options->new_ctid, "The copy's id")->required();
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      session.containers().clone(options->ctid, options->new_ctid);
      return 0;
    };
  });
}

// vzctl chkpnt: the whole checkpoint (suspend, dump with CRIU, stop), or one of its stages.
void add_chkpnt(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid;
    std::optional<std::string> dumpfile;
    bool suspend = false, dump = false, kill = false, resume = false;
  };
  auto options = std::make_shared<Options>();
  auto* verb =
      app.add_subcommand("chkpnt",
                         "Checkpoint a running CT: freeze it, save its whole state with CRIU (with its beancounters' "
                         "maxheld and failcnt) and stop it; `ubcctl restore` continues it. Or one stage alone.");
  verb->add_option("CT", options->ctid, "CT id")->required();
  auto* dumpfile =
      verb->add_option("--dumpfile", options->dumpfile,
                       "The checkpoint's directory (default $UBC_STATE_DIR/dump/CT, /var/lib/ubc/dump/CT)");
  auto* suspend = verb->add_flag("--suspend", options->suspend,
                                 "Only freeze every task of the CT where it is (cgroup.freeze); it runs nothing until "
                                 "--resume or stop");
  auto* dump = verb->add_flag("--dump", options->dump,
                              "Only save a suspended CT with CRIU; it stays suspended (--kill stops it, --resume lets "
                              "it run on and the checkpoint stays as a snapshot)");
  auto* kill = verb->add_flag("--kill", options->kill,
                              "Only stop a suspended CT that --dump saved; `ubcctl restore` continues it");
  auto* resume = verb->add_flag("--resume", options->resume, "Only thaw a suspended CT");
  suspend->excludes(dumpfile)->excludes(dump)->excludes(kill)->excludes(resume);
  dump->excludes(kill)->excludes(resume);
  kill->excludes(resume);
  resume->excludes(dumpfile);
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      const std::string& ctid = options->ctid;
      if (options->suspend) {
        session.containers().suspend(ctid);
        std::printf("CT %s suspended\n", ctid.c_str());
      } else if (options->resume) {
        session.containers().resume(ctid);
        std::printf("CT %s resumed\n", ctid.c_str());
      } else {
        const std::filesystem::path dir = options->dumpfile ? *options->dumpfile : default_dump_dir(ctid).string();
        if (options->dump) {
          session.containers().checkpoint(ctid, dir, 0, Containers::AfterDump::stay_suspended);
          std::printf("CT %s checkpointed to %s; it stays suspended\n", ctid.c_str(), dir.c_str());
        } else if (options->kill) {
          session.containers().kill_checkpointed(ctid, dir);
          std::printf("CT %s stopped; `ubcctl restore %s` continues it from %s\n", ctid.c_str(), ctid.c_str(),
                      dir.c_str());
        } else {
          session.containers().checkpoint(ctid, dir);
          std::printf("CT %s checkpointed to %s and stopped\n", ctid.c_str(), dir.c_str());
        }
      }
      return 0;
    };
  });
}

// vzctl restore: a checkpointed CT running again.
void add_restore(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid;
    std::optional<std::string> dumpfile;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("restore", "Continue a CT from its checkpoint (`ubcctl chkpnt`), once");
  verb->add_option("CT", options->ctid, "CT id")->required();
  verb->add_option("--dumpfile", options->dumpfile, "The checkpoint's directory (default as chkpnt's)");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      const std::string& ctid = options->ctid;
      const std::filesystem::path dir = options->dumpfile ? *options->dumpfile : default_dump_dir(ctid).string();
      session.containers().restore(ctid, dir);
      std::printf("CT %s restored from %s\n", ctid.c_str(), dir.c_str());
      return 0;
    };
  });
}

// vzmigrate: the CT to another ubc host over SSH.
void add_migrate(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid, ssh_options;
    MigrationOptions migration;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand(
      "migrate",
      "Move a CT to another ubc host over SSH (vzmigrate): its files, config and limits; with --online its running "
      "processes too (checkpoint, copy, restore). Then destroyed here unless --keep-src.");
  verb->add_option("CT", options->ctid, "CT id")->required();
  verb->add_option("HOST", options->migration.destination, "[user@]host: root there runs ubcctl")->required();
  verb->add_flag("--online", options->migration.online,
                 "Move the running CT with its processes (CRIU), rather than stop it here and start it there");
  verb->add_flag("--keep-src", options->migration.keep_source, "Keep the CT here, stopped, rather than destroy it");
  verb->add_option("--pre-dumps", options->migration.pre_dumps,
                   "Online: rounds of memory copied while the CT runs on, before its last, frozen dump (default 1; "
                   "0 copies it all while frozen)")
      ->check(CLI::Range(0, 8));
  verb->add_option("--ssh-opts", options->ssh_options, "Options for ssh, as one string (e.g. \"-p 2222 -i KEY\")");
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      std::istringstream words(options->ssh_options);
      for (std::string word; words >> word;) options->migration.ssh_options.push_back(word);
      const auto result = session.containers().migrate(options->ctid, options->migration);
      const auto seconds = [](std::chrono::milliseconds span) { return static_cast<double>(span.count()) / 1000; };
      const char* where = options->migration.destination.c_str();
      if (options->migration.online)
        std::printf(
            "CT %s migrated online to %s; frozen for %.1f s: dump %.1f s, copy %.1f s, restore %.1f s "
            "(after %d pre-dump round(s), %.1f s)\n",
            options->ctid.c_str(), where, seconds(result.down), seconds(result.stopping), seconds(result.copying),
            seconds(result.starting), options->migration.pre_dumps, seconds(result.pre_copy));
      else if (result.was_running)
        std::printf("CT %s migrated to %s; down for %.1f s: stop %.1f s, copy %.1f s, start %.1f s\n",
                    options->ctid.c_str(), where, seconds(result.down), seconds(result.stopping),
                    seconds(result.copying), seconds(result.starting));
      else
        std::printf("CT %s migrated to %s\n", options->ctid.c_str(), where);
      return 0;
    };
  });
}

// The receiving side of migrate, run by the source over SSH; not for people.
void add_migrate_receive(CLI::App& app, Action& chosen) {
  struct Options {
    std::string ctid;
    bool check = false, checkpoint = false, files = false, commit = false, abort = false, online = false;
    std::vector<std::string> command;
  };
  auto options = std::make_shared<Options>();
  auto* verb = app.add_subcommand("migrate-receive", "The destination's side of `ubcctl migrate` (run by it)");
  verb->group("");
  verb->add_option("CT", options->ctid, "CT id")->required();
  auto* check = verb->add_flag("--check", options->check, "Check the config on stdin and keep it");
  auto* checkpoint = verb->add_flag("--checkpoint", options->checkpoint, "Its checkpoint, a tar stream on stdin");
  auto* files = verb->add_flag("--files", options->files,
                               "Run the receiving rsync given after -- on the CT's files, through a view that "
                               "follows no symlink");
  verb->add_option("command", options->command, "With --files: rsync --server ...")->needs(files);
  auto* commit = verb->add_flag("--commit", options->commit, "Put the CT in place");
  auto* abort = verb->add_flag("--abort", options->abort, "Remove what arrived");
  verb->add_flag("--online", options->online, "With --check: a checkpoint will be restored here")->needs(check);
  const std::vector<CLI::Option*> steps{check, checkpoint, files, commit, abort};
  for (auto* step : steps)
    for (auto* other : steps)
      if (step != other) step->excludes(other);
  verb->callback([&chosen, options] {
    chosen = [options](Session& session) {
      if (options->files) return session.containers().receive_files(options->ctid, options->command);
      const MigrationStep step = options->check        ? MigrationStep::check
                                 : options->checkpoint ? MigrationStep::checkpoint
                                 : options->commit     ? MigrationStep::commit
                                 : options->abort      ? MigrationStep::abort
                                                       : throw std::invalid_argument("migrate-receive: which step?");
      session.containers().receive_migration(options->ctid, step, std::cin, options->online);
      return 0;
    };
  });
}

void add_setting_options(CLI::App& verb, CtSettingChanges& changes) {
  const std::string live = " (a running CT at once, saved with --save; a stopped CT's config)";
  verb.add_option("--hostname", changes.hostname, "Hostname" + live);
  verb.add_option("--ipadd", changes.ipadd, "Add an IPv4 or IPv6 address" + live);
  verb.add_option("--ipdel", changes.ipdel, "Remove an address, or 'all'" + live);
  verb.add_option("--nameserver", changes.nameservers,
                  "A DNS server for the CT's /etc/resolv.conf, or 'inherit' (the host's; repeatable)" + live);
  verb.add_option("--searchdomain", changes.search_domains,
                  "A search domain for the CT's /etc/resolv.conf, or 'inherit' (repeatable)" + live);
  verb.add_option("--userpasswd", changes.user_passwords,
                  "USER:PASSWORD: set a user's password in the CT's /etc/shadow (running or stopped; never saved)");
  verb.add_option("--onboot", changes.onboot, "yes|no: start with `ubcctl start --all` (saved)");
  verb.add_option("--init", changes.init, "The CT's init command (next start; saved)");
  verb.add_option("--userns", changes.userns, "yes|no: run in a user namespace (next start; saved)");
  verb.add_option("--capability", changes.capabilities,
                  "NAME:on|off, e.g. sys_time:on: grant or remove a capability (next start; saved)");
  verb.add_option("--devices", changes.devices, "Grant host device nodes: NAME[:r|rw], e.g. ttyS0:rw (saved)");
  verb.add_option("--netdev_add", changes.netdev_add, "Move a host network interface into the CT at start (saved)");
  verb.add_option("--netdev_del", changes.netdev_del, "Stop moving that interface in (next start; saved)");
}

void add_limit_options(CLI::App& verb, std::map<std::string, std::string>& limit_texts) {
  for (const auto& info : resource_table()) {
    const std::string name(info.name);
    std::string help = "BARRIER[:LIMIT] or 'unlimited'";
    if (info.unit == Unit::pages) help += "; K/M/G/T = bytes (rounded up to whole pages), P = pages";
    if (info.unit == Unit::bytes) help += "; K/M/G/T = bytes, P = pages";
    verb.add_option_function<std::string>(
        "--" + name, [&limit_texts, name](const std::string& text) { limit_texts[name] = text; }, help);
  }
}

}  // namespace

void add_lifecycle_verbs(CLI::App& app, Action& chosen, const VerbFilter& filter) {
  if (filter.wants("create")) add_create(app, chosen);
  if (filter.wants("destroy")) add_destroy(app, chosen);
  if (filter.wants("exec")) add_exec(app, chosen);
  if (filter.wants("start")) add_start(app, chosen);
  if (filter.wants("stop") || filter.wants("restart")) add_stop_and_restart(app, chosen);
  if (filter.wants("status"))
    add_ct_verb(app, chosen, "status", "Print vzctl's status line: CTID 101 exist mounted running",
                [](Session& session, const std::string& ctid) { return status(session.containers(), ctid); });
  if (filter.wants("enter"))
    add_ct_verb(app, chosen, "enter", "An interactive shell inside a running CT",
                [](Session& session, const std::string& ctid) { return session.containers().enter(ctid); });
  if (filter.wants("console"))
    add_ct_verb(app, chosen, "console", "Attach to a running CT's console (its init's terminal); Esc then . detaches",
                [](Session& session, const std::string& ctid) {
                  session.containers().console(ctid);
                  return 0;
                });
  if (filter.wants("quota"))
    add_ct_verb(
        app, chosen, "quota", "vzquota stat: the CT's disk use, limits and grace",
        [](Session& session, const std::string& ctid) { return quota(session.host(), session.containers(), ctid); });
  if (filter.wants("clone")) add_clone(app, chosen);
  if (filter.wants("chkpnt")) add_chkpnt(app, chosen);
  if (filter.wants("restore")) add_restore(app, chosen);
  if (filter.wants("migrate")) add_migrate(app, chosen);
  if (filter.wants("migrate-receive")) add_migrate_receive(app, chosen);
}

void add_set_verb(CLI::App& app, Action& chosen, const VerbFilter& filter) {
  if (!filter.wants("set")) return;
  auto request = std::make_shared<SetRequest>();
  auto* verb = app.add_subcommand("set", "Set a CT's barrier and limit: ubcctl set CT --numfile B[:L] [--save]");
  verb->add_option("CT", request->ctid, "CT id")->required();
  verb->add_flag("--save", request->save,
                 "Also write them to the CT's config file (/etc/ubc/CT.conf), kept across reloads");
  verb->add_option("--cpuunits", request->cpuunits, "CPU weight among CTs, 8..500000 (OpenVZ default 1000); at once");
  verb->add_option("--cpulimit", request->cpulimit,
                   "CPU cap in percent of one CPU (200 = two), or N% of the host; 0 = none");
  verb->add_option("--cpus", request->cpus, "How many CPUs the CT may use at once; 0 = all");
  verb->add_option("--ioprio", request->ioprio, "Share of a busy disk among CTs, 0..7 (OpenVZ default 4); at once");
  verb->add_option("--iolimit", request->iolimit,
                   "Bytes per second the CT may read, and write, on its disks: N[B|K|M|G], no suffix = MB; 0 = none");
  verb->add_option("--iopslimit", request->iopslimit, "Operations per second, each way, on its disks; 0 = none");
  verb->add_option("--diskspace", request->diskspace,
                   "Disk quota SOFT[:HARD] in 1 KiB blocks or N[K|M|G|T]; past HARD writes fail (EDQUOT); at once");
  verb->add_option("--diskinodes", request->diskinodes, "Inode quota SOFT[:HARD]; at once");
  verb->add_option("--quotatime", request->quotatime,
                   "Seconds a soft limit may be passed before it holds as hard (per filesystem)");
  verb->add_option("--quotaugidlimit", request->quotaugidlimit,
                   "How many uids and gids in the CT may have their own quota (setquota, edquota inside); 0 = off");
  add_setting_options(*verb, request->settings);
  add_limit_options(*verb, request->limit_texts);
  verb->callback([&chosen, request] {
    chosen = [request](Session& session) {
      for (const auto& warning : apply_set(session.host(), *request))
        std::cerr << "ubcctl: warning: " << warning << "\n";
      return 0;
    };
  });
}

}  // namespace ubc::cli
