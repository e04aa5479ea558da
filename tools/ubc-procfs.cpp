// ubc-procfs: serves one running CT's /proc view (ubc/proc_view.h) over FUSE. `ubcctl
// start` runs it on the host next to the CT; it ends with the CT (its init's exit, or the
// kernel ending the FUSE connection when the CT's mounts go away).
#define FUSE_USE_VERSION 34
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loader/cgroup.h"
#include "loader/error.h"
#include "loader/namespaces.h"
#include "loader/proc_view.h"
#include "ubc/ct_call_service.h"
#include "ubc/ct_config.h"
#include "ubc/ct_figures.h"
#include "ubc/ct_process.h"
#include "ubc/ct_quota_calls.h"
#include "ubc/host.h"
#include "ubc/proc_view.h"
#include "ubc/report.h"
#include "ubc/ugid_quota.h"

namespace {

using ubc::ProcView;

constexpr const char* kUsage =
    "usage: ubc-procfs CTID INIT_PID|- ROOT_ID FUSE_FD SOCKET_FD\n"
    "Serves CT CTID's /proc view (user_beancounters; the CT's own meminfo, swaps, uptime,\n"
    "stat, cpuinfo, loadavg and diskstats; its real procfs) on the FUSE connection FUSE_FD until the\n"
    "CT's init INIT_PID exits; its files belong to host uid and gid ROOT_ID (the CT's root).\n"
    "The CT sends its procfs on SOCKET_FD. `ubcctl start` runs it; `ubcctl restore` runs it with\n"
    "INIT_PID -, before the CT's init exists: the CT's pid file names it once the procfs comes.\n";

struct Server {
  Server(ProcView served, uid_t owner) : view(std::move(served)), owner(owner), started(::time(nullptr)) {}
  ProcView view;
  uid_t owner;
  time_t started;
  std::map<std::uint64_t, std::vector<ProcView::Entry>> listings;  // by directory handle
  struct OpenText {
    std::string text;
    bool read = false;  // a read at offset 0 came since the open
  };
  std::map<std::uint64_t, OpenText> texts;  // by file handle
  std::uint64_t next_handle = 1;
  fuse_session* session = nullptr;
};

// Makes the kernel's size of a served file at least `text`'s. A reader that splices (cat,
// sendfile) reads through the page cache up to that size, and a short read lowers it to the
// true end of that reading; a longer text next time would be cut there. Looking the file up
// again restores the reported bound, but a file bound over procfs's (attach_proc_files) is
// never looked up again: the kernel grows the size on a zero-length store at the end.
void cover_text_size(const Server& server, fuse_ino_t inode, const std::string& text) {
  if (!server.session) return;
  fuse_bufvec nothing = FUSE_BUFVEC_INIT(0);
  if (const int error = fuse_lowlevel_notify_store(server.session, inode, static_cast<off_t>(text.size()), &nothing,
                                                   FUSE_BUF_SPLICE_NONBLOCK);
      error && error != -ENOENT)
    std::fprintf(stderr, "ubc-procfs: growing a file's size: %s\n", std::strerror(-error));
}

Server& server_of(fuse_req_t request) {
  return *static_cast<Server*>(fuse_req_userdata(request));
}

// `text`: the served file's text the reader has open, if it asks through an open file.
struct stat attributes_of(const ProcView::Node& node, fuse_req_t request, const std::string* text = nullptr) {
  Server& server = server_of(request);
  struct stat attributes {};
  attributes.st_ino = node.inode;
  attributes.st_uid = server.owner;
  attributes.st_gid = server.owner;
  attributes.st_atime = attributes.st_mtime = attributes.st_ctime = server.started;
  switch (node.kind) {
    case ProcView::Kind::directory:
      attributes.st_mode = S_IFDIR | node.mode;
      attributes.st_nlink = 2;
      break;
    case ProcView::Kind::file:
      // Its true size (or a bound), unlike procfs's 0: the kernel reads FUSE files through
      // the page cache up to the size when it splices (sendfile, busybox cat), even with
      // direct_io.
      attributes.st_mode = S_IFREG | node.mode;
      attributes.st_nlink = 1;
      attributes.st_size = static_cast<off_t>(text ? text->size() : server.view.size_hint(node.inode));
      break;
    case ProcView::Kind::symlink:
      attributes.st_mode = S_IFLNK | node.mode;
      attributes.st_nlink = 1;
      if (auto target = server.view.link_target(node.inode)) attributes.st_size = static_cast<off_t>(target->size());
      break;
  }
  return attributes;
}

void reply_entry(fuse_req_t request, const ProcView::Node& node) {
  fuse_entry_param entry{};
  try {
    entry.attr = attributes_of(node, request);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-procfs: rendering a file: %s\n", error.what());
    fuse_reply_err(request, EIO);
    return;
  }
  entry.ino = node.inode;
  entry.generation = 1;
  entry.entry_timeout = node.entry_timeout;
  entry.attr_timeout = node.attribute_timeout;
  fuse_reply_entry(request, &entry);
}

void on_lookup(fuse_req_t request, fuse_ino_t parent, const char* name) {
  if (parent != ProcView::kRoot) {
    fuse_reply_err(request, ENOENT);  // only .procfs, before procfs is mounted on it
    return;
  }
  if (auto node = server_of(request).view.lookup(name, fuse_req_ctx(request)->pid))
    reply_entry(request, *node);
  else
    fuse_reply_err(request, ENOENT);
}

void on_forget(fuse_req_t request, fuse_ino_t inode, std::uint64_t count) {
  server_of(request).view.forget(inode, count);
  fuse_reply_none(request);
}

void on_forget_multi(fuse_req_t request, std::size_t count, fuse_forget_data* forgets) {
  for (std::size_t i = 0; i < count; ++i) server_of(request).view.forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(request);
}

void on_getattr(fuse_req_t request, fuse_ino_t inode, fuse_file_info* file) {
  Server& server = server_of(request);
  const auto node = server.view.node(inode);
  if (!node) {
    fuse_reply_err(request, ENOENT);
    return;
  }
  const auto open_text = file && node->kind == ProcView::Kind::file ? server.texts.find(file->fh) : server.texts.end();
  try {
    const struct stat attributes =
        attributes_of(*node, request, open_text != server.texts.end() ? &open_text->second.text : nullptr);
    fuse_reply_attr(request, &attributes, node->attribute_timeout);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-procfs: rendering a file: %s\n", error.what());
    fuse_reply_err(request, EIO);
  }
}

// Every symlink's inode stands for one target (ProcView::lookup): the kernel may keep what
// it read, and walks /proc/PID without asking the server again.
void on_init(void*, fuse_conn_info* connection) {
  if (connection->capable & FUSE_CAP_CACHE_SYMLINKS) connection->want |= FUSE_CAP_CACHE_SYMLINKS;
}

void on_readlink(fuse_req_t request, fuse_ino_t inode) {
  if (auto target = server_of(request).view.link_target(inode))
    fuse_reply_readlink(request, target->c_str());
  else
    fuse_reply_err(request, EINVAL);
}

void on_opendir(fuse_req_t request, fuse_ino_t inode, fuse_file_info* file) {
  Server& server = server_of(request);
  const auto node = server.view.node(inode);
  if (!node || node->kind != ProcView::Kind::directory) {
    fuse_reply_err(request, ENOTDIR);
    return;
  }
  try {
    // A listing is taken once per open, so that offsets stay stable while pids come and go.
    std::vector<ProcView::Entry> listing{{".", ProcView::Kind::directory}, {"..", ProcView::Kind::directory}};
    if (inode == ProcView::kRoot)
      for (auto& entry : server.view.list()) listing.push_back(std::move(entry));
    file->fh = server.next_handle++;
    server.listings.emplace(file->fh, std::move(listing));
    fuse_reply_open(request, file);
  } catch (const ubc::SystemError& error) {
    std::fprintf(stderr, "ubc-procfs: %s\n", error.what());
    fuse_reply_err(request, error.error());
  }
}

void on_readdir(fuse_req_t request, fuse_ino_t, std::size_t size, off_t offset, fuse_file_info* file) {
  const auto& listing = server_of(request).listings.at(file->fh);
  std::vector<char> buffer(size);
  std::size_t used = 0;
  for (auto index = static_cast<std::size_t>(offset); index < listing.size(); ++index) {
    struct stat type {};
    type.st_mode = listing[index].kind == ProcView::Kind::directory ? S_IFDIR
                   : listing[index].kind == ProcView::Kind::file    ? S_IFREG
                                                                    : S_IFLNK;
    const std::size_t wanted = fuse_add_direntry(request, buffer.data() + used, size - used,
                                                 listing[index].name.c_str(), &type, static_cast<off_t>(index + 1));
    if (wanted > size - used) break;
    used += wanted;
  }
  fuse_reply_buf(request, buffer.data(), used);
}

void on_releasedir(fuse_req_t request, fuse_ino_t, fuse_file_info* file) {
  server_of(request).listings.erase(file->fh);
  fuse_reply_err(request, 0);
}

void on_open(fuse_req_t request, fuse_ino_t inode, fuse_file_info* file) {
  Server& server = server_of(request);
  const auto node = server.view.node(inode);
  if (!node || node->kind != ProcView::Kind::file) {
    fuse_reply_err(request, EISDIR);
    return;
  }
  if ((file->flags & O_ACCMODE) != O_RDONLY) {
    fuse_reply_err(request, EACCES);
    return;
  }
  try {
    // One reading per open: a reader that reads in pieces sees one consistent text.
    file->fh = server.next_handle++;
    const auto& open = server.texts.emplace(file->fh, Server::OpenText{server.view.render(inode)}).first->second;
    if (node->direct_io) cover_text_size(server, inode, open.text);
    file->keep_cache = 0;  // each open reads anew
    file->direct_io = node->direct_io ? 1 : 0;
    fuse_reply_open(request, file);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-procfs: rendering a file: %s\n", error.what());
    fuse_reply_err(request, EIO);
  }
}

void on_read(fuse_req_t request, fuse_ino_t inode, std::size_t size, off_t offset, fuse_file_info* file) {
  Server& server = server_of(request);
  auto& open = server.texts.at(file->fh);
  // A reader that keeps the file open and reads it again from the start (top, and
  // libproc2 under it, seek back and reread meminfo and stat) gets today's figures, as
  // procfs's seq_file gives them; a read in pieces stays one reading.
  const auto node = server.view.node(inode);
  if (offset == 0 && open.read && node && node->direct_io) {
    try {
      open.text = server.view.render(inode);
      cover_text_size(server, inode, open.text);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "ubc-procfs: rendering a file again: %s\n", error.what());
    }
  }
  if (offset == 0) open.read = true;
  const std::string& text = open.text;
  const auto start = std::min(text.size(), static_cast<std::size_t>(offset));
  fuse_reply_buf(request, text.data() + start, std::min(size, text.size() - start));
}

void on_release(fuse_req_t request, fuse_ino_t, fuse_file_info* file) {
  server_of(request).texts.erase(file->fh);
  fuse_reply_err(request, 0);
}

std::string render(const std::string& ctid) {
  ubc::Host host(ubc::HostPaths::discover());
  if (!host.engine_loaded()) return ubc::format_user_beancounters({});
  const ubc::ContainerUsage usage = host.usage(ctid);
  return ubc::format_user_beancounters({&usage, 1});
}

// render()'s length without reading a counter: the same rows, all zero, are as long.
std::size_t rendered_size(const std::string& ctid) {
  if (!ubc::Host(ubc::HostPaths::discover()).engine_loaded()) return ubc::format_user_beancounters({}).size();
  ubc::ContainerUsage shape{ctid, {}};
  for (const auto& info : ubc::resource_table()) shape.resources.push_back({&info, {}});
  return ubc::format_user_beancounters({&shape, 1}).size();
}

// A file of the CT's own resources: `render` makes it from the host's text of the same
// file. Where its figures cannot be read (the cgroup is going away as the CT stops) the
// reader gets the host's text, as a plain procfs would give it, rather than a broken /proc.
ProcView::ServedFile own_resources_file(const char* name, const char* host_file,
                                        std::function<std::string(const std::string&)> render) {
  return {name,
          0444,
          [name, host = std::make_shared<ubc::KernelFile>(host_file), render = std::move(render)] {
            const std::string text = host->read_existing();
            try {
              return render(text);
            } catch (const std::exception& error) {
              std::fprintf(stderr, "ubc-procfs: %s: serving the host's: %s\n", name, error.what());
              return text;
            }
          },
          {}};
}

// The CT's load average: its threads sampled every 5 seconds (kSampleSeconds) while the
// server runs, from the CT's start, as the kernel samples the host's from its boot.
class CtLoad {
 public:
  CtLoad(std::filesystem::path cgroup, ubc::UniqueFd ct_procfs)
      : cgroup_(std::move(cgroup)), ct_procfs_(std::move(ct_procfs)) {}

  // `periods` sampling periods went by (more than one when the server was held up).
  void sample(std::uint64_t periods) {
    const ubc::cgroup::TaskStates states = ubc::cgroup::read_task_states(cgroup_);
    for (std::uint64_t period = 0; period < std::min<std::uint64_t>(periods, kMaxPeriods); ++period)
      load_.sample(states.running + states.uninterruptible);
  }

  std::string render() const {
    const ubc::cgroup::TaskStates states = ubc::cgroup::read_task_states(cgroup_);
    return ubc::proc_files::loadavg(load_, states.running, states.total, last_pid());
  }

  // What sysinfo(2) says in the CT: its meminfo's figures, time up, load and tasks.
  struct sysinfo sysinfo(ubc::CtFigureReader& figures) const {
    std::ifstream host("/proc/meminfo");
    const std::string host_meminfo((std::istreambuf_iterator<char>(host)), std::istreambuf_iterator<char>());
    return ubc::proc_files::sysinfo_of(ubc::proc_files::meminfo(host_meminfo, figures.memory()),
                                       figures.cpu().seconds_up, load_, ubc::cgroup::count_threads(cgroup_));
  }

 private:
  // Past an hour of missed periods every average is the current load anyway.
  static constexpr std::uint64_t kMaxPeriods = 3600 / ubc::proc_files::LoadAverage::kSampleSeconds;

  // The last pid the CT's pid namespace gave: its own procfs's loadavg says it.
  long last_pid() const {
    const ubc::UniqueFd file(::openat(ct_procfs_.get(), "loadavg", O_RDONLY | O_CLOEXEC));
    char text[128] = {};
    if (!file || ::read(file.get(), text, sizeof text - 1) <= 0) return 0;
    const char* last = std::strrchr(text, ' ');
    return last ? std::strtol(last + 1, nullptr, 10) : 0;
  }

  std::filesystem::path cgroup_;
  ubc::UniqueFd ct_procfs_;
  ubc::proc_files::LoadAverage load_;
};

// What the served files read: made once the CT's init is known (a restored CT's comes after
// the view is mounted). Until then a file of the CT's own resources shows the host's text.
struct CtSources {
  std::optional<ubc::CtFigureReader> figures;
  std::optional<CtLoad> load;
};

std::vector<ProcView::ServedFile> served_files(const std::string& ctid, CtSources& sources) {
  namespace files = ubc::proc_files;
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  auto figures = [&sources]() -> ubc::CtFigureReader& { return sources.figures.value(); };
  return {
      {"user_beancounters", 0400, [ctid] { return render(ctid); }, [ctid] { return rendered_size(ctid); }},
      own_resources_file("meminfo", "/proc/meminfo",
                         [figures](const std::string& host) { return files::meminfo(host, figures().memory()); }),
      own_resources_file("swaps", "/proc/meminfo",
                         [figures](const std::string& host) { return files::swaps(host, figures().memory()); }),
      own_resources_file("uptime", "/proc/uptime",
                         [figures](const std::string&) { return files::uptime(figures().cpu()); }),
      own_resources_file("stat", "/proc/stat",
                         [figures, ticks_per_second](const std::string& host) {
                           return files::stat(host, figures().cpu(), ticks_per_second);
                         }),
      own_resources_file("cpuinfo", "/proc/cpuinfo",
                         [figures](const std::string& host) { return files::cpuinfo(host, figures().cpu().cpus); }),
      own_resources_file(ubc::ns::kCpuOnlineName, "/sys/devices/system/cpu/online",
                         [figures](const std::string&) { return files::cpu_online(figures().cpu().cpus); }),
      own_resources_file("loadavg", "/proc/loadavg",
                         [&sources](const std::string&) { return sources.load.value().render(); }),
      own_resources_file("diskstats", "/proc/diskstats",
                         [figures](const std::string& host) { return files::diskstats(host, figures().io()); }),
  };
}

// The CT's ids on the host, from its init's uid_map or gid_map (as the host reads them).
ubc::quota::IdRange id_range_of(pid_t init, const char* map) {
  std::ifstream in("/proc/" + std::to_string(init) + "/" + map);
  for (std::uint32_t inside = 0, outside = 0, count = 0; in >> inside >> outside >> count;)
    if (inside == 0) return {outside, count};
  throw std::runtime_error(std::string("CT init has no id 0 in its ") + map);
}

// The calls this server answers for the CT (ubc/ct_call_service.h).
std::map<long, ubc::CtCallService::Handler> call_handlers(const std::string& ctid, pid_t init, const CtLoad& load,
                                                          ubc::CtFigureReader& figures) {
  std::map<long, ubc::CtCallService::Handler> handlers;
  handlers[SYS_sysinfo] = [&load, &figures](ubc::NotifiedCall& call) {
    const struct sysinfo info = load.sysinfo(figures);
    if (call.write(call.data().args[0], &info, sizeof info))
      call.answer_value(0);
    else
      call.answer_error(EFAULT);
  };
  // Only a CT with a user namespace of its own hands its quotactl calls here.
  if (!ubc::ns::has_own_user_namespace(init)) return handlers;
  try {
    ubc::Host host(ubc::HostPaths::discover());
    struct stat user_namespace {};
    const std::string namespace_path = "/proc/" + std::to_string(init) + "/ns/user";
    if (::stat(namespace_path.c_str(), &user_namespace)) ubc::throw_system_error("stat(" + namespace_path + ")");
    auto quota = std::make_shared<ubc::CtQuotaCalls>(ubc::CtQuotaCalls::Ct{
        ubc::CtSettings::from(ubc::CtConfig::load(host.config_path(ctid))).root, id_range_of(init, "uid_map"),
        id_range_of(init, "gid_map"), user_namespace.st_ino, [ctid] { return ubc::running_ugid_limit(ctid); }});
    handlers[SYS_quotactl] = handlers[SYS_quotactl_fd] = [quota](ubc::NotifiedCall& call) { quota->answer(call); };
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-procfs: CT %s: no second-level disk quota: %s\n", ctid.c_str(), error.what());
    handlers[SYS_quotactl] = handlers[SYS_quotactl_fd] = [](ubc::NotifiedCall& call) { call.answer_error(EPERM); };
  }
  return handlers;
}

ubc::UniqueFd sampling_timer() {
  ubc::UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
  if (!timer) ubc::throw_system_error("timerfd_create");
  itimerspec every{};
  every.it_interval.tv_sec = every.it_value.tv_sec = ubc::proc_files::LoadAverage::kSampleSeconds;
  if (::timerfd_settime(timer.get(), 0, &every, nullptr)) ubc::throw_system_error("timerfd_settime");
  return timer;
}

// Serves requests until the CT's init exits or the kernel ends the connection, and samples
// the CT's load between them.
void serve(fuse_session* session, int init_pidfd, CtLoad& load, ubc::CtCallService& calls) {
  const ubc::UniqueFd timer = sampling_timer();
  fuse_buf buffer{};
  std::vector<pollfd> watched;
  while (!fuse_session_exited(session)) {
    watched = {{fuse_session_fd(session), POLLIN, 0}, {init_pidfd, POLLIN, 0}, {timer.get(), POLLIN, 0}};
    calls.watch(watched);
    if (::poll(watched.data(), watched.size(), -1) < 0) {
      if (errno == EINTR) continue;
      ubc::throw_system_error("poll");
    }
    if (watched[1].revents) break;
    for (std::size_t i = 3; i < watched.size(); ++i) calls.handle(watched[i]);
    if (watched[2].revents) {
      std::uint64_t periods = 0;
      if (::read(timer.get(), &periods, sizeof periods) == sizeof periods) load.sample(periods);
    }
    // Only when a request waits: a blocking read here would leave the CT's callers waiting.
    if (!watched[0].revents) continue;
    const int got = fuse_session_receive_buf(session, &buffer);
    if (got == -EINTR) continue;
    if (got <= 0) break;
    fuse_session_process_buf(session, &buffer);
  }
  std::free(buffer.mem);
}

// The last number of a "NSpid:" or "NStgid:" line: the innermost pid namespace's.
std::optional<pid_t> innermost(const std::string& status, const std::string& key) {
  const auto line = status.find("\n" + key);
  if (line == std::string::npos) return std::nullopt;
  const auto end = status.find('\n', line + 1);
  const auto last = status.find_last_of(" \t", end);
  return static_cast<pid_t>(std::strtol(status.c_str() + last + 1, nullptr, 10));
}

std::optional<ProcView::CtThread> resolve_thread(pid_t tid, ino_t ct_pid_namespace) {
  const std::string dir = "/proc/" + std::to_string(tid);
  struct stat namespace_of {};
  if (::stat((dir + "/ns/pid").c_str(), &namespace_of) || namespace_of.st_ino != ct_pid_namespace) return std::nullopt;
  std::ifstream in(dir + "/status");
  const std::string status((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto process = innermost(status, "NStgid:");
  const auto thread = innermost(status, "NSpid:");
  if (!process || !thread) return std::nullopt;
  return ProcView::CtThread{*process, *thread};
}

// Serves the view until the CT's procfs comes on `socket` (at once for a starting CT; a
// restored CT's after CRIU, which looks up .procfs and .cpu_online first, is done).
ubc::UniqueFd serve_until_procfs(fuse_session* session, int socket) {
  fuse_buf buffer{};
  while (!fuse_session_exited(session)) {
    pollfd watched[] = {{fuse_session_fd(session), POLLIN, 0}, {socket, POLLIN, 0}};
    if (::poll(watched, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ubc::throw_system_error("poll");
    }
    if (watched[1].revents) break;
    const int got = fuse_session_receive_buf(session, &buffer);
    if (got == -EINTR) continue;
    if (got <= 0) break;
    fuse_session_process_buf(session, &buffer);
  }
  std::free(buffer.mem);
  return ubc::ns::receive_ct_procfs(socket);
}

// `given_init`: none for a restored CT, whose pid file names its init once the procfs comes.
int run(const std::string& ctid, std::optional<pid_t> given_init, uid_t owner, int connection, int socket) {
  ubc::validate_ctid(ctid);
  // The CT's whole /proc depends on this process, and a FUSE connection cannot be taken
  // over once its server is gone: the OOM killer must pick anything else first.
  std::ofstream("/proc/self/oom_score_adj") << "-1000\n";
  const std::filesystem::path cgroup = ubc::Host(ubc::HostPaths::discover()).cgroup_of(ctid);
  CtSources sources;
  ino_t ct_pid_namespace = 0;  // none matches until init is known
  Server server(ProcView(ubc::UniqueFd(), served_files(ctid, sources),
                         [&ct_pid_namespace](pid_t tid) { return resolve_thread(tid, ct_pid_namespace); }),
                owner);
  fuse_lowlevel_ops operations{};
  operations.init = on_init;
  operations.lookup = on_lookup;
  operations.forget = on_forget;
  operations.forget_multi = on_forget_multi;
  operations.getattr = on_getattr;
  operations.readlink = on_readlink;
  operations.opendir = on_opendir;
  operations.readdir = on_readdir;
  operations.releasedir = on_releasedir;
  operations.open = on_open;
  operations.read = on_read;
  operations.release = on_release;

  char program[] = "ubc-procfs";
  char* argv[] = {program, nullptr};
  fuse_args args = FUSE_ARGS_INIT(1, argv);
  fuse_session* session = fuse_session_new(&args, &operations, sizeof operations, &server);
  if (!session) throw std::runtime_error("fuse_session_new failed");
  const std::unique_ptr<fuse_session, decltype(&fuse_session_destroy)> owned_session(session, fuse_session_destroy);
  server.session = session;
  // "/dev/fd/N": the connection is mounted already (by ubcctl), libfuse only serves it.
  const std::string mounted = "/dev/fd/" + std::to_string(connection);
  if (fuse_session_mount(session, mounted.c_str()))
    throw std::runtime_error("fuse_session_mount(" + mounted + ") failed");

  ubc::UniqueFd procfs = serve_until_procfs(session, socket);
  pid_t init = 0;
  if (given_init) {
    init = *given_init;
  } else if (!(std::ifstream(ubc::ct_pid_file(ctid)) >> init) || init <= 0) {
    throw std::runtime_error("no init in " + ubc::ct_pid_file(ctid).string());
  }
  const ubc::UniqueFd init_pidfd(static_cast<int>(::syscall(SYS_pidfd_open, init, 0)));
  if (!init_pidfd) ubc::throw_system_error("pidfd_open(" + std::to_string(init) + ")");
  struct stat namespace_of_init {};
  const std::string init_namespace = "/proc/" + std::to_string(init) + "/ns/pid";
  if (::stat(init_namespace.c_str(), &namespace_of_init)) ubc::throw_system_error("stat(" + init_namespace + ")");
  ct_pid_namespace = namespace_of_init.st_ino;
  ubc::UniqueFd procfs_for_load(::fcntl(procfs.get(), F_DUPFD_CLOEXEC, 0));
  if (!procfs_for_load) ubc::throw_system_error("fcntl(F_DUPFD_CLOEXEC)");
  server.view.attach_procfs(std::move(procfs));
  sources.load.emplace(cgroup, std::move(procfs_for_load));
  sources.figures.emplace(cgroup, init);
  // The CT's init sends its seccomp listener on the socket its procfs came by.
  ubc::CtCallService calls(ubc::ct_call_socket(ctid), ubc::UniqueFd(socket),
                           call_handlers(ctid, init, *sources.load, *sources.figures));
  serve(session, init_pidfd.get(), *sources.load, calls);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc != 6) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  try {
    const std::string init = argv[2];
    return run(argv[1], init == "-" ? std::nullopt : std::optional(static_cast<pid_t>(std::stol(init))),
               static_cast<uid_t>(std::stoul(argv[3])), std::stoi(argv[4]), std::stoi(argv[5]));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ubc-procfs: CT %s: %s\n", argv[1], error.what());
    return 1;
  }
}
