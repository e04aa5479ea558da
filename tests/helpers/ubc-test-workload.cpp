// A process that the kernel tests start inside a CT and drive line by line over stdin /
// stdout, so that a test can read the CT's counters between the process's steps.
//
// It prints "ready" once started, then answers each command with one line:
//   open N         open /dev/null up to N times (0: until refused)  -> "ok OPENED ERRNO"
//   pty N PATH     open the pty master PATH up to N times (0: until refused)
//                                                                    -> "ok OPENED ERRNO"
//   fork N         fork up to N children that wait (0: until refused)
//                                                                    -> "ok FORKED ERRNO"
//   forkrace T     T threads each fork waiting children until refused
//                                                                    -> "ok FORKED REFUSALS"
//   threads N      start up to N threads that wait (0: until refused)
//                                                                    -> "ok STARTED ERROR"
//   shm N BYTES    create up to N SysV segments of BYTES bytes each (0: until refused)
//                                                                    -> "ok CREATED ERRNO"
//   shmrm          IPC_RMID every segment this process created       -> "ok"
//   shmtouch       attach every segment this process created and write all of it
//                                                                    -> "ok ERRNO"
//   flock N        flock(LOCK_EX|LOCK_NB) up to N new files (0: until refused)
//                                                                    -> "ok LOCKED ERRNO"
//   posix N        fcntl(F_SETLK) N disjoint byte ranges of one file (0: until refused)
//                                                                    -> "ok LOCKED ERRNO"
//   lock A B       fcntl(F_SETLK, F_WRLCK) bytes [A, B) of that file   -> "ok ERRNO"
//   unlock A B     fcntl(F_SETLK, F_UNLCK) bytes [A, B) of that file   -> "ok ERRNO"
//   punch N        lock [0, 2N+1) of that file, then unlock N holes in it, each a split
//                                                  -> "ok PUNCHED ERRNO OBJECTS_LISTED"
//   locks          the lock objects /proc/locks lists for this process -> "ok N"
//   chaos N SEED   N random operations of every kind the engine charges (open, dup, pipe,
//                  socketpair, pty, flock, fcntl locks, SysV shm, fds sent and received
//                  over fd 3 if it is a socket, threads, forks that exec, exit or are
//                  killed with SIGKILL), refusals included, and every 1000 operations a
//                  burst of forks and flocks up to their limits; state carries over to the
//                  next chaos command and closeall releases it      -> "ok DONE REFUSED"
//   pipe           one pipe                                          -> "ok ERRNO" (0: made)
//   kinds          one each of pipe, socket, socketpair, eventfd, epoll, memfd
//                                                                    -> "ok FILES"
//   racekind T K   T threads each take K (pty, flock, sock, shm, sig) until refused
//                                                                    -> "ok TAKEN REFUSALS"
//   race T         T threads each open until refused                 -> "ok OPENED REFUSALS"
//   churn T N      T threads each open, yield, close N times                -> "ok OPENED REFUSALS"
//   sendfd         make a pipe, send its read end over fd 3 (SCM_RIGHTS), close both ends
//                                                                    -> "ok"
//   recvfd         receive one fd over fd 3 and keep it             -> "ok"
//   sock N KIND    socket() of KIND (tcp, udp, unix) up to N times (0: until refused)
//                                                                    -> "ok CREATED ERRNO"
//   listen         a TCP listener on 127.0.0.1                       -> "ok PORT ERRNO"
//   unixconn N     an AF_UNIX listener and up to N clients connected to it (0: until refused)
//                                                                    -> "ok CONNECTED ERRNO"
//   sigqueue N     queue SIGRTMIN to itself (blocked) up to N times (0: until refused)
//                                                                    -> "ok QUEUED ERRNO"
//   sigdrain       take every queued SIGRTMIN                        -> "ok TAKEN"
//   sigignore      ignore SIGRTMIN for a moment: the kernel drops every queued one
//                                                                    -> "ok ERRNO"
//   sockbufs BYTES leave BYTES unread in a TCP connection, an AF_UNIX socketpair and a UDP
//                  socket                                            -> "ok 0"
//   memfd N        a memfd with N written pages, kept open            -> "ok ERRNO"
//   shanon N       a shared anonymous mapping of N touched pages      -> "ok ERRNO"
//   escape MARKER  try bpf(), opening the engine's pinned map, a chroot escape (then look
//                  for the host file MARKER) and mounting cgroup2
//                  -> "ok MAP_ERRNO OBJ_GET_ERRNO CHROOT_ERRNO MARKER_SEEN MOUNT_ERRNO"
//   nlbatch N      one netfilter netlink send of N no-op messages and then one nftables
//                  NEWRULE                                           -> "ok ERRNO" (0: sent)
//   anon N         map N private writable anonymous pages and touch them -> "ok ERRNO"
//   mlock N        the same, then mlock() them                       -> "ok ERRNO"
//   unmap          unmap everything anon and mlock mapped            -> "ok"
//   dentries N DIR create N files in a new directory under DIR       -> "ok ERRNO"
//   vfork MS       vfork() a child that sleeps MS ms and exits: this process waits in
//                  vfork (state D) that long                         -> "ok ERRNO"
//   closeall       close every fd this process opened, end the children and threads it
//                  started                                           -> "ok"
// "Until refused" stops after kUntilRefusedCap attempts, so a refusal that never comes fails
// a test instead of hanging it. It exits at end of input. Errors are "error TEXT".
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

constexpr long kUntilRefusedCap = 20000;
// The number of attempts a command may make: N, or the cap for 0 ("until refused").
long attempts(long requested) {
  return requested == 0 ? kUntilRefusedCap : requested;
}
// Forks are capped lower: a refusal that never comes must not fork-bomb the test machine.
constexpr long kForkCap = 2000;

std::mutex g_fds_mutex;
std::vector<int> g_fds;

void keep(int fd) {
  std::lock_guard lock(g_fds_mutex);
  g_fds.push_back(fd);
}

std::string open_until(long max, const char* path = "/dev/null", int flags = O_RDONLY) {
  long opened = 0;
  int error = 0;
  while (opened < attempts(max)) {
    int fd = ::open(path, flags | O_CLOEXEC);
    if (fd < 0) {
      error = errno;
      break;
    }
    keep(fd);
    ++opened;
  }
  return "ok " + std::to_string(opened) + " " + std::to_string(error);
}

// The vfork child only sleeps and exits, which vfork allows.
std::string vfork_sleeping(long milliseconds) {
  const timespec pause{milliseconds / 1000, (milliseconds % 1000) * 1000000};
  const pid_t child = ::vfork();
  if (child == 0) {
    ::nanosleep(&pause, nullptr);
    ::_exit(0);
  }
  if (child < 0) return "ok " + std::to_string(errno);
  int status = 0;
  ::waitpid(child, &status, 0);
  return "ok 0";
}

std::string make_pipe() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC)) return "ok " + std::to_string(errno);
  keep(pipe_fds[0]);
  keep(pipe_fds[1]);
  return "ok 0";
}

std::string make_kinds() {
  int pipe_fds[2], pair[2];
  if (::pipe2(pipe_fds, O_CLOEXEC)) return std::string("error pipe: ") + std::strerror(errno);
  keep(pipe_fds[0]);
  keep(pipe_fds[1]);
  int fds[] = {::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ::eventfd(0, EFD_CLOEXEC),
               ::epoll_create1(EPOLL_CLOEXEC), ::memfd_create("ubc-test", MFD_CLOEXEC)};
  for (int fd : fds) {
    if (fd < 0) return std::string("error: ") + std::strerror(errno);
    keep(fd);
  }
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair))
    return std::string("error socketpair: ") + std::strerror(errno);
  keep(pair[0]);
  keep(pair[1]);
  return "ok 8";
}

// Threads of the last race or churn, parked until the next command: a thread that exits
// makes glibc call get_nprocs(), which opens /sys/devices/system/cpu/online and /proc/stat,
// file allocations of their own that would be refused at the limit and blur the counts.
// For the same reason each thread warms its malloc arena before the start signal.
struct ParkedThreads {
  std::vector<std::thread> threads;
  std::atomic<bool> release{false};

  void join_all() {
    release = true;
    for (auto& thread : threads) thread.join();
    threads.clear();
    release = false;
  }
};
ParkedThreads g_parked;

std::string run_threads(int threads, long iterations, bool churn) {
  constexpr std::size_t kMaxFilesPerThread = 1 << 16;
  std::atomic<long> opened{0}, refusals{0};
  std::atomic<int> started{0}, finished{0};
  std::atomic<bool> go{false};
  std::vector<std::vector<int>> kept(static_cast<std::size_t>(threads));
  for (auto& fds : kept) fds.reserve(kMaxFilesPerThread);
  for (auto& fds : kept) {
    g_parked.threads.emplace_back([&, fds_ptr = &fds] {
      auto& fds = *fds_ptr;
      std::free(std::malloc(1));
      ++started;
      while (!go.load()) std::this_thread::yield();
      for (long i = 0; churn ? i < iterations : fds.size() < kMaxFilesPerThread; ++i) {
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          ++refusals;
          if (!churn) break;
          continue;
        }
        ++opened;
        if (churn) {
          std::this_thread::yield();  // hold it across a reschedule: overlap on any CPU count
          ::close(fd);
        } else {
          fds.push_back(fd);
        }
      }
      ++finished;
      while (!g_parked.release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  while (started.load() < threads) std::this_thread::yield();
  go = true;
  while (finished.load() < threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (const auto& fds : kept)
    for (int fd : fds) keep(fd);
  return "ok " + std::to_string(opened.load()) + " " + std::to_string(refusals.load());
}

std::string send_fd() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC)) return std::string("error pipe: ") + std::strerror(errno);
  char byte = 'x';
  iovec io{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &pipe_fds[0], sizeof(int));
  const bool sent = ::sendmsg(3, &message, 0) == 1;
  const int error = errno;
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  return sent ? "ok" : std::string("error sendmsg: ") + std::strerror(error);
}

std::string receive_fd() {
  char byte;
  iovec io{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  if (::recvmsg(3, &message, MSG_CMSG_CLOEXEC) != 1) return std::string("error recvmsg: ") + std::strerror(errno);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (!header || header->cmsg_type != SCM_RIGHTS) return "error: no fd received";
  int fd;
  std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
  keep(fd);
  return "ok";
}

// Children and threads started by "fork" and "threads": they wait until closeall.
struct Waiters {
  int release_pipe[2] = {-1, -1};  // children exit when the write end closes
  std::vector<pid_t> children;
  std::vector<pthread_t> threads;
  std::atomic<bool> release_threads{false};
} g_waiters;

std::string fork_until(long max) {
  if (g_waiters.release_pipe[1] < 0 && ::pipe2(g_waiters.release_pipe, O_CLOEXEC))
    return std::string("error pipe: ") + std::strerror(errno);
  long forked = 0;
  int error = 0;
  while (forked < std::min(attempts(max), kForkCap)) {
    const pid_t child = ::fork();
    if (child < 0) {
      error = errno;
      break;
    }
    if (child == 0) {
      char byte;
      ::close(g_waiters.release_pipe[1]);
      while (::read(g_waiters.release_pipe[0], &byte, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    }
    g_waiters.children.push_back(child);
    ++forked;
  }
  return "ok " + std::to_string(forked) + " " + std::to_string(error);
}

// Each racing thread forks until its first refusal; the children wait like fork's.
std::string fork_race(int threads) {
  if (g_waiters.release_pipe[1] < 0 && ::pipe2(g_waiters.release_pipe, O_CLOEXEC))
    return std::string("error pipe: ") + std::strerror(errno);
  std::mutex children_mutex;
  std::atomic<long> refusals{0};
  std::atomic<int> started{0}, finished{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  g_waiters.children.reserve(g_waiters.children.size() + 100000);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      std::free(std::malloc(1));
      ++started;
      while (!go.load()) std::this_thread::yield();
      for (long forked = 0; forked < kForkCap / threads; ++forked) {
        const pid_t child = ::fork();
        if (child < 0) {
          ++refusals;
          break;
        }
        if (child == 0) {
          char byte;
          ::close(g_waiters.release_pipe[1]);
          while (::read(g_waiters.release_pipe[0], &byte, 1) < 0 && errno == EINTR) {
          }
          ::_exit(0);
        }
        std::lock_guard lock(children_mutex);
        g_waiters.children.push_back(child);
      }
      // No thread exits before all are refused: an exiting thread frees a numproc place
      // that another one would take.
      ++finished;
      while (finished.load() < threads) std::this_thread::yield();
    });
  }
  while (started.load() < threads) std::this_thread::yield();
  const std::size_t before = g_waiters.children.size();
  go = true;
  for (auto& thread : pool) thread.join();
  return "ok " + std::to_string(g_waiters.children.size() - before) + " " + std::to_string(refusals.load());
}

// Files for locks: created in /tmp and unlinked at once, so nothing is left behind.
int new_lock_file() {
  char path[] = "/tmp/ubc-workload-lock.XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd >= 0) {
    ::unlink(path);
    keep(fd);
  }
  return fd;
}

std::string flock_until(long max) {
  long locked = 0;
  int error = 0;
  while (locked < attempts(max)) {
    const int fd = new_lock_file();
    if (fd < 0) return std::string("error mkstemp: ") + std::strerror(errno);
    if (::flock(fd, LOCK_EX | LOCK_NB)) {
      error = errno;
      break;
    }
    ++locked;
  }
  return "ok " + std::to_string(locked) + " " + std::to_string(error);
}

int g_posix_file = -1;

int posix_lock(short type, long start, long end) {
  if (g_posix_file < 0) g_posix_file = new_lock_file();
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = start;
  lock.l_len = end - start;
  return ::fcntl(g_posix_file, F_SETLK, &lock) ? errno : 0;
}

// The lock objects this process holds, as the kernel lists them in /proc/locks.
long locks_listed() {
  std::ifstream locks("/proc/locks");
  const std::string pid = std::to_string(::getpid());
  long count = 0;
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string field;
    for (int i = 0; i < 5 && fields >> field; ++i) {
    }
    if (field == pid) ++count;
  }
  return count;
}

// One write lock over [0, 2n+1), then n one-byte holes punched in it: each unlock splits
// a lock in two. Replies with the holes punched, the errno that stopped it (0: none) and
// the objects the kernel lists.
std::string punch_holes(long holes) {
  int error = posix_lock(F_WRLCK, 0, 2 * holes + 1);
  long punched = 0;
  while (!error && punched < holes) {
    if ((error = posix_lock(F_UNLCK, 2 * punched + 1, 2 * punched + 2))) break;
    ++punched;
  }
  return "ok " + std::to_string(punched) + " " + std::to_string(error) + " " + std::to_string(locks_listed());
}

std::string posix_until(long max) {
  long locked = 0;
  int error = 0;
  while (locked < attempts(max)) {
    // Every other byte, so that no two ranges touch and merge.
    if ((error = posix_lock(F_WRLCK, 2 * locked, 2 * locked + 1))) break;
    ++locked;
  }
  return "ok " + std::to_string(locked) + " " + std::to_string(error);
}

std::vector<int> g_segments;

std::string shm_until(long max, long bytes) {
  long created = 0;
  int error = 0;
  while (created < attempts(max)) {
    const int id = ::shmget(IPC_PRIVATE, static_cast<std::size_t>(bytes), IPC_CREAT | 0600);
    if (id < 0) {
      error = errno;
      break;
    }
    g_segments.push_back(id);
    ++created;
  }
  return "ok " + std::to_string(created) + " " + std::to_string(error);
}

// Attaches every segment this process created, writes every page, detaches.
std::string shm_touch_all() {
  for (int id : g_segments) {
    shmid_ds info{};
    if (::shmctl(id, IPC_STAT, &info)) return "ok " + std::to_string(errno);
    void* area = ::shmat(id, nullptr, 0);
    if (area == reinterpret_cast<void*>(-1)) return "ok " + std::to_string(errno);
    std::memset(area, 1, info.shm_segsz);
    ::shmdt(area);
  }
  return "ok 0";
}

std::string shm_remove_all() {
  for (int id : g_segments) ::shmctl(id, IPC_RMID, nullptr);
  g_segments.clear();
  return "ok";
}

// One random operation of the leak test. Refused operations are expected (the limits are
// tight on purpose): they must not leak either.
class Chaos {
 public:
  explicit Chaos(unsigned seed) : state_(seed | 1) {}

  std::string run(long operations) {
    for (long i = 0; i < operations; ++i) {
      step();
      if (++steps_ % kStepsPerBurst == 0) burst();
    }
    return "ok " + std::to_string(operations) + " " + std::to_string(refused_);
  }

  void release() {
    for (pid_t child : children_) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    for (int fd : fds_) ::close(fd);
    for (int id : segments_) ::shmctl(id, IPC_RMID, nullptr);
    children_.clear();
    fds_.clear();
    segments_.clear();
    lock_file_ = -1;
  }

 private:
  unsigned next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  void add(int fd) {
    if (fd >= 0)
      fds_.push_back(fd);
    else
      ++refused_;
  }
  int any_fd() { return fds_.empty() ? -1 : fds_[next() % fds_.size()]; }
  void close_one() {
    if (fds_.empty()) return;
    const std::size_t index = next() % fds_.size();
    ::close(fds_[index]);
    fds_[index] = fds_.back();
    fds_.pop_back();
  }
  void lock_range(int fd) {
    struct flock lock {};
    lock.l_type = (next() % 3 == 0) ? F_UNLCK : F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = next() % 64;
    lock.l_len = 1 + next() % 16;
    if (::fcntl(fd, F_SETLK, &lock) && errno != EAGAIN && errno != EBADF) ++refused_;
  }
  // The random mix reaches the numproc and numflock walls only when timing allows (reaps
  // outpace forks), so a burst now and then goes to both walls on purpose, in the middle of
  // the other operations, and then lets go.
  static constexpr long kStepsPerBurst = 1000;
  void burst() {
    std::vector<pid_t> waiting;
    for (long i = 0; i < kForkCap / 10; ++i) {
      const pid_t child = ::fork();
      if (child < 0) {
        ++refused_;
        break;
      }
      if (child == 0) {
        ::pause();
        ::_exit(0);
      }
      waiting.push_back(child);
    }
    for (pid_t child : waiting) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    std::vector<int> locked;  // shared flocks on separate open files: one lock each
    for (long i = 0; i < 200; ++i) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        ++refused_;
        break;
      }
      locked.push_back(fd);
      if (::flock(fd, LOCK_SH | LOCK_NB)) {
        ++refused_;
        break;
      }
    }
    for (int fd : locked) ::close(fd);
  }
  // A short-lived child: it takes a few resources, then exits, execs, or waits to be killed.
  void fork_child() {
    const pid_t child = ::fork();
    if (child < 0) {
      ++refused_;
      return;
    }
    if (child == 0) {
      // Not the test's pipes: a child must never keep them open after the workload is gone.
      ::close(0);
      ::close(1);
      const unsigned kind = next() % 3;
      for (int i = 0; i < 3; ++i) {
        const int fd = ::open("/dev/null", O_RDONLY);
        if (fd >= 0) ::flock(fd, LOCK_SH | LOCK_NB);
      }
      if (kind == 0) ::_exit(0);
      if (kind == 1) {
        ::execl("/bin/true", "true", static_cast<char*>(nullptr));
        ::_exit(127);
      }
      ::pause();
      ::_exit(0);
    }
    children_.push_back(child);
    if (children_.size() > 4) reap_one();
  }
  void reap_one() {
    if (children_.empty()) return;
    const pid_t child = children_.front();
    children_.erase(children_.begin());
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  void thread_that_exits() {
    std::thread worker;
    try {
      worker = std::thread([this] {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
          ::flock(fd, LOCK_EX | LOCK_NB);
          std::lock_guard lock(thread_fds_mutex_);
          thread_fds_.push_back(fd);
        }
      });
    } catch (const std::system_error&) {  // numproc refused the clone
      ++refused_;
      return;
    }
    worker.join();
    std::lock_guard lock(thread_fds_mutex_);
    for (int fd : thread_fds_) fds_.push_back(fd);
    thread_fds_.clear();
  }
  void send_fd() {
    const int fd = any_fd();
    if (fd < 0) return;
    char byte = 'x';
    iovec io{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
    ::sendmsg(3, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  void receive_fd() {
    char byte;
    iovec io{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    if (::recvmsg(3, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1) return;
    if (cmsghdr* header = CMSG_FIRSTHDR(&message); header && header->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
      fds_.push_back(fd);
    }
  }
  void step() {
    switch (next() % 20) {
      case 0:
      case 1:
      case 2:
        add(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        break;
      case 3:
      case 4:
      case 5:
        close_one();
        break;
      case 6:
        if (const int fd = any_fd(); fd >= 0) add(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
        break;
      case 7: {
        int pair[2];
        if (::pipe2(pair, O_CLOEXEC) == 0) {
          fds_.push_back(pair[0]);
          fds_.push_back(pair[1]);
        } else
          ++refused_;
        break;
      }
      case 8: {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
          fds_.push_back(pair[0]);
          fds_.push_back(pair[1]);
        } else
          ++refused_;
        break;
      }
      case 9:
        add(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
        break;
      case 10:
        if (const int fd = any_fd(); fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) && errno != EWOULDBLOCK) ++refused_;
        break;
      case 11: {
        if (lock_file_ < 0) {
          char path[] = "/tmp/ubc-chaos.XXXXXX";
          lock_file_ = ::mkstemp(path);
          if (lock_file_ >= 0) {
            ::unlink(path);
            fds_.push_back(lock_file_);
          }
        }
        if (lock_file_ >= 0 && std::find(fds_.begin(), fds_.end(), lock_file_) != fds_.end())
          lock_range(lock_file_);
        else
          lock_file_ = -1;
        break;
      }
      case 12: {
        const int id = ::shmget(IPC_PRIVATE, 4096 * (1 + next() % 8), IPC_CREAT | 0600);
        if (id >= 0)
          segments_.push_back(id);
        else
          ++refused_;
        break;
      }
      case 13:
        if (!segments_.empty()) {
          ::shmctl(segments_.back(), IPC_RMID, nullptr);
          segments_.pop_back();
        }
        break;
      case 14:
        send_fd();
        break;
      case 15:
        receive_fd();
        break;
      case 16:
        if (next() % 8 == 0) fork_child();
        break;
      case 17:
        if (next() % 8 == 0) thread_that_exits();
        break;
      case 18:
        if (next() % 4 == 0) reap_one();
        break;
      default:
        if (fds_.size() > 150)
          for (int i = 0; i < 50; ++i) close_one();
        break;
    }
  }

  unsigned state_;
  long steps_ = 0;
  long refused_ = 0;
  int lock_file_ = -1;
  std::vector<int> fds_;
  std::vector<int> segments_;
  std::vector<pid_t> children_;
  std::mutex thread_fds_mutex_;
  std::vector<int> thread_fds_;
};

std::optional<Chaos> g_chaos;

void* wait_for_release(void*) {
  while (!g_waiters.release_threads.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return nullptr;
}

std::string threads_until(long max) {
  long started = 0;
  int error = 0;
  while (started < attempts(max)) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    error = pthread_create(&thread, &attr, wait_for_release, nullptr);
    pthread_attr_destroy(&attr);
    if (error) break;
    g_waiters.threads.push_back(thread);
    ++started;
  }
  return "ok " + std::to_string(started) + " " + std::to_string(error);
}

std::string close_all() {
  if (g_chaos) g_chaos->release();
  {
    std::lock_guard lock(g_fds_mutex);
    for (int fd : g_fds) ::close(fd);
    g_fds.clear();
    g_posix_file = -1;
  }
  if (g_waiters.release_pipe[1] >= 0) {
    ::close(g_waiters.release_pipe[1]);
    ::close(g_waiters.release_pipe[0]);
    g_waiters.release_pipe[0] = g_waiters.release_pipe[1] = -1;
  }
  for (pid_t child : g_waiters.children) ::waitpid(child, nullptr, 0);
  g_waiters.children.clear();
  g_waiters.release_threads = true;
  for (pthread_t thread : g_waiters.threads) pthread_join(thread, nullptr);
  g_waiters.threads.clear();
  g_waiters.release_threads = false;
  return "ok";
}

// socket(DOMAIN) up to `max` times: tcp, udp or unix.
std::string socket_until(long max, const std::string& kind) {
  const int domain = kind == "unix" ? AF_UNIX : AF_INET;
  const int type = kind == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  long created = 0;
  int error = 0;
  while (created < attempts(max)) {
    const int fd = ::socket(domain, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = errno;
      break;
    }
    keep(fd);
    ++created;
  }
  return "ok " + std::to_string(created) + " " + std::to_string(error);
}

// A TCP listener on 127.0.0.1, kept open; its port for the test to connect to.
std::string tcp_listen() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "ok 0 " + std::to_string(errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) || ::listen(fd, 128) ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length))
    return "ok 0 " + std::to_string(errno);
  keep(fd);
  return "ok " + std::to_string(ntohs(address.sin_port)) + " 0";
}

// An AF_UNIX stream listener and up to `max` clients connected to it from this process.
std::string unix_connect_until(long max) {
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return "ok 0 " + std::to_string(errno);
  keep(listener);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string name = "ubc-test-" + std::to_string(::getpid()) + "-" + std::to_string(listener);
  std::memcpy(address.sun_path + 1, name.data(), name.size());  // abstract: nothing to unlink
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) || ::listen(listener, 4096))
    return "ok 0 " + std::to_string(errno);
  long connected = 0;
  int error = 0;
  while (connected < attempts(max)) {
    const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0) {
      error = errno;
      break;
    }
    keep(client);
    if (::connect(client, reinterpret_cast<sockaddr*>(&address), length)) {
      error = errno;
      break;
    }
    ++connected;
  }
  return "ok " + std::to_string(connected) + " " + std::to_string(error);
}

// Queues up to `max` SIGRTMIN signals to itself with the signal blocked, so each stays
// queued (one struct sigqueue each) until "sigdrain".
std::string sigqueue_until(long max) {
  sigset_t rt;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN);
  pthread_sigmask(SIG_BLOCK, &rt, nullptr);
  long queued = 0;
  int error = 0;
  while (queued < attempts(max)) {
    if (::sigqueue(::getpid(), SIGRTMIN, sigval{static_cast<int>(queued)})) {
      error = errno;
      break;
    }
    ++queued;
  }
  return "ok " + std::to_string(queued) + " " + std::to_string(error);
}

std::string sigdrain() {
  sigset_t rt;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN);
  const timespec no_wait{};
  long drained = 0;
  while (::sigtimedwait(&rt, nullptr, &no_wait) == SIGRTMIN) ++drained;
  return "ok " + std::to_string(drained);
}

// Setting a signal to SIG_IGN flushes its queued instances (flush_sigqueue_mask).
std::string sigignore() {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction was {};
  if (::sigaction(SIGRTMIN, &ignore, &was) || ::sigaction(SIGRTMIN, &was, nullptr))
    return "ok " + std::to_string(errno);
  return "ok 0";
}

// Leaves `bytes` unread in each of: a TCP connection over loopback (receiver's queue), an
// AF_UNIX socketpair (charged to the writer) and a UDP socket sent to itself.
std::string fill_socket_buffers(long bytes) {
  const std::string data(static_cast<std::size_t>(bytes), 'x');
  auto fail = [](const char* what) { return std::string("error ") + what + ": " + std::strerror(errno); };
  // TCP: listener, client, accepted end.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), length) || ::listen(listener, 1) ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length))
    return fail("tcp listener");
  keep(listener);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0 || ::connect(client, reinterpret_cast<sockaddr*>(&address), length)) return fail("tcp connect");
  keep(client);
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (server < 0) return fail("accept");
  keep(server);
  if (::send(client, data.data(), data.size(), 0) != bytes) return fail("tcp send");
  // AF_UNIX: the queued bytes count against the writer.
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair)) return fail("socketpair");
  keep(pair[0]);
  keep(pair[1]);
  if (::send(pair[0], data.data(), data.size(), 0) != bytes) return fail("unix send");
  // UDP to itself.
  const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in udp_address{};
  udp_address.sin_family = AF_INET;
  udp_address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t udp_length = sizeof udp_address;
  if (udp < 0 || ::bind(udp, reinterpret_cast<sockaddr*>(&udp_address), udp_length) ||
      ::getsockname(udp, reinterpret_cast<sockaddr*>(&udp_address), &udp_length))
    return fail("udp");
  keep(udp);
  if (::sendto(udp, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&udp_address), udp_length) != bytes)
    return fail("udp send");
  return "ok 0";
}

// `threads` threads each take one more of KIND until refused, all released at once: the
// race at the barrier that must never let held pass it.
std::string race_kind(int threads, const std::string& kind) {
  std::function<bool()> take;
  if (kind == "pty") {
    take = [] {
      const int fd = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (fd >= 0) keep(fd);
      return fd >= 0;
    };
  } else if (kind == "flock") {
    take = [] {
      const int fd = new_lock_file();
      return fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    };
  } else if (kind == "sock") {
    take = [] {
      const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd >= 0) keep(fd);
      return fd >= 0;
    };
  } else if (kind == "shm") {
    take = [] {
      const int id = ::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
      if (id < 0) return false;
      std::lock_guard lock(g_fds_mutex);
      g_segments.push_back(id);
      return true;
    };
  } else if (kind == "sig") {
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    pthread_sigmask(SIG_BLOCK, &rt, nullptr);  // threads inherit it: every signal stays queued
    take = [] { return ::sigqueue(::getpid(), SIGRTMIN, sigval{0}) == 0; };
  } else {
    return "error unknown race kind '" + kind + "'";
  }
  std::atomic<long> taken{0}, refusals{0};
  std::atomic<int> started{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      ++started;
      while (!go.load()) std::this_thread::yield();
      for (long i = 0; i < kUntilRefusedCap; ++i) {
        if (!take()) {
          ++refusals;
          break;
        }
        ++taken;
      }
    });
  }
  while (started.load() < threads) std::this_thread::yield();
  go = true;
  for (auto& worker : workers) worker.join();
  return "ok " + std::to_string(taken.load()) + " " + std::to_string(refusals.load());
}

// What a CT's root tries to get out of its CT: the bpf() syscall (a new map; the engine's
// pinned map), the classic chroot escape (and whether the host's `marker` file is then
// visible), and mounting cgroup2 to rewrite its own limits.
// A batch longer than the engine's walk over it, with a rule past the end of the walk.
std::string netlink_long_batch(long noops) {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return "ok " + std::to_string(errno);
  const int buffer_size = 64 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer_size, sizeof buffer_size))
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_size, sizeof buffer_size);
  std::vector<nlmsghdr> messages(static_cast<std::size_t>(noops) + 1);
  for (auto& message : messages) {
    message.nlmsg_len = sizeof(nlmsghdr);
    message.nlmsg_type = NLMSG_NOOP;  // skipped by netlink, cheap
    message.nlmsg_flags = NLM_F_REQUEST;
  }
  messages.back().nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  const ssize_t sent = ::sendto(fd, messages.data(), messages.size() * sizeof(nlmsghdr), 0,
                                reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  const int error = sent < 0 ? errno : 0;
  ::close(fd);
  return "ok " + std::to_string(error);
}

std::string try_escapes(const std::string& marker) {
  union bpf_attr create {};
  create.map_type = BPF_MAP_TYPE_ARRAY;
  create.key_size = 4;
  create.value_size = 4;
  create.max_entries = 1;
  const long map = ::syscall(SYS_bpf, BPF_MAP_CREATE, &create, sizeof create);
  const int map_errno = map < 0 ? errno : 0;
  union bpf_attr get {};
  const char* pinned = "/sys/fs/bpf/ubc/ubc_cts";
  get.pathname = reinterpret_cast<std::uint64_t>(pinned);
  const long object = ::syscall(SYS_bpf, BPF_OBJ_GET, &get, sizeof get);
  const int object_errno = object < 0 ? errno : 0;

  ::mkdir("/tmp/ubc-escape", 0700);
  int chroot_errno = 0;
  if (::chroot("/tmp/ubc-escape")) {
    chroot_errno = errno;
  } else {
    for (int i = 0; i < 64; ++i) [[maybe_unused]] int ignored = ::chdir("..");
    if (::chroot(".")) chroot_errno = errno;
  }
  const bool marker_seen = ::access(marker.c_str(), F_OK) == 0;
  ::mkdir("/tmp/ubc-cgroup", 0700);
  const int mounted = ::mount("none", "/tmp/ubc-cgroup", "cgroup2", 0, nullptr);
  const int mount_errno = mounted ? errno : 0;
  return "ok " + std::to_string(map_errno) + " " + std::to_string(object_errno) + " " + std::to_string(chroot_errno) +
         " " + std::to_string(marker_seen) + " " + std::to_string(mount_errno);
}

// Mappings made by "anon" and "mlock", unmapped by "unmap".
std::vector<std::pair<void*, std::size_t>> g_mappings;

// Maps `pages` private writable anonymous pages, touches them, and mlock()s them if asked.
std::string map_pages(long pages, bool lock) {
  const std::size_t bytes = static_cast<std::size_t>(pages) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* area = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) return "ok " + std::to_string(errno);
  std::memset(area, 1, bytes);
  g_mappings.emplace_back(area, bytes);
  if (lock && ::mlock(area, bytes)) return "ok " + std::to_string(errno);
  return "ok 0";
}

// Shared memory that is not SysV: a memfd of `pages` written pages (kept open), or a shared
// anonymous mapping of `pages` touched pages.
std::string shared_pages(long pages, bool memfd) {
  const std::size_t bytes = static_cast<std::size_t>(pages) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  if (memfd) {
    const int fd = ::memfd_create("ubc-test-shm", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes))) return "ok " + std::to_string(errno);
    keep(fd);
    void* area = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (area == MAP_FAILED) return "ok " + std::to_string(errno);
    std::memset(area, 1, bytes);
    ::munmap(area, bytes);
    return "ok 0";
  }
  void* area = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) return "ok " + std::to_string(errno);
  std::memset(area, 1, bytes);
  g_mappings.emplace_back(area, bytes);
  return "ok 0";
}

std::string unmap_all() {
  for (auto [area, bytes] : g_mappings) ::munmap(area, bytes);
  g_mappings.clear();
  return "ok";
}

// Creates `count` files in a new directory under `dir` (dentries and inodes in the CT's memcg).
std::string make_dentries(long count, const std::string& dir) {
  char path[4096];
  std::snprintf(path, sizeof path, "%s/ubc-dentries-XXXXXX", dir.c_str());
  if (!::mkdtemp(path)) return "ok " + std::to_string(errno);
  for (long i = 0; i < count; ++i) {
    const std::string file = std::string(path) + "/a-rather-long-file-name-to-fill-the-dentry-" + std::to_string(i);
    const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return "ok " + std::to_string(errno);
    ::close(fd);
  }
  return "ok 0";
}

std::string run(const std::string& line) {
  std::istringstream words(line);
  std::string command;
  long a = 0, b = 0;
  words >> command >> a;
  if (command == "pty") {
    std::string path = "/dev/ptmx";
    words >> path;
    return open_until(a, path.c_str(), O_RDWR | O_NOCTTY);
  }
  if (command == "dentries") {
    std::string dir = "/tmp";
    words >> dir;
    return make_dentries(a, dir);
  }
  words >> b;
  if (command == "sock") {
    std::string kind;
    std::istringstream(line) >> command >> a >> kind;
    return socket_until(a, kind);
  }
  if (command == "listen") return tcp_listen();
  if (command == "escape") {
    std::string marker;
    std::istringstream(line) >> command >> marker;
    return try_escapes(marker);
  }
  if (command == "sigqueue") return sigqueue_until(a);
  if (command == "nlbatch") return netlink_long_batch(a);
  if (command == "sigdrain") return sigdrain();
  if (command == "sigignore") return sigignore();
  if (command == "sockbufs") return fill_socket_buffers(a);
  if (command == "racekind") {
    std::string kind;
    std::istringstream(line) >> command >> a >> kind;
    return race_kind(static_cast<int>(a), kind);
  }
  if (command == "unixconn") return unix_connect_until(a);
  if (command == "memfd") return shared_pages(a, true);
  if (command == "shanon") return shared_pages(a, false);
  if (command == "anon") return map_pages(a, false);
  if (command == "mlock") return map_pages(a, true);
  if (command == "unmap") return unmap_all();
  if (command == "open") return open_until(a);
  if (command == "kinds") return make_kinds();
  if (command == "pipe") return make_pipe();
  if (command == "vfork") return vfork_sleeping(a);
  if (command == "race") return run_threads(static_cast<int>(a), 0, false);
  if (command == "churn") return run_threads(static_cast<int>(a), b, true);
  if (command == "sendfd") return send_fd();
  if (command == "fork") return fork_until(a);
  if (command == "threads") return threads_until(a);
  if (command == "forkrace") return fork_race(static_cast<int>(a));
  if (command == "shm") return shm_until(a, b);
  if (command == "chaos") {
    if (!g_chaos) g_chaos.emplace(static_cast<unsigned>(b));
    return g_chaos->run(a);
  }
  if (command == "flock") return flock_until(a);
  if (command == "posix") return posix_until(a);
  if (command == "punch") return punch_holes(a);
  if (command == "locks") return "ok " + std::to_string(locks_listed());
  if (command == "lock") return "ok " + std::to_string(posix_lock(F_WRLCK, a, b));
  if (command == "unlock") return "ok " + std::to_string(posix_lock(F_UNLCK, a, b));
  if (command == "shmrm") return shm_remove_all();
  if (command == "shmtouch") return shm_touch_all();
  if (command == "recvfd") return receive_fd();
  if (command == "closeall") return close_all();
  return "error unknown command '" + command + "'";
}

}  // namespace

int main() {
  std::cout << "ready" << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    g_parked.join_all();
    std::cout << run(line) << std::endl;
  }
  g_parked.join_all();
  close_all();
  return 0;
}
