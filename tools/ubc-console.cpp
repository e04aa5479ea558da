// ubc-console FILE MAX_BYTES FD: keeps a CT's console. Copies what the CT's init and its
// children write to their stdout and stderr (the pipe at FD) into FILE, with at most
// MAX_BYTES in FILE and the MAX_BYTES before them in FILE.1, so that a CT cannot fill the
// host's /run. `ubcctl start` runs one per CT; it ends when every writer has closed the pipe.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int open_console(const std::string& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) std::fprintf(stderr, "ubc-console: open(%s): %s\n", file.c_str(), std::strerror(errno));
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: ubc-console FILE MAX_BYTES FD\n");
    return 2;
  }
  const std::string file = argv[1];
  const unsigned long long max_bytes = std::strtoull(argv[2], nullptr, 10);
  const int input = std::atoi(argv[3]);
  if (max_bytes == 0 || input < 0) {
    std::fprintf(stderr, "ubc-console: MAX_BYTES and FD must be positive\n");
    return 2;
  }
  int output = open_console(file);
  if (output < 0) return 1;
  unsigned long long written = 0;
  char buffer[65536];
  for (;;) {
    const ssize_t got = ::read(input, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (ssize_t done = 0; done < got;) {
      if (written == max_bytes) {  // full: the current file becomes FILE.1
        ::close(output);
        if (std::rename(file.c_str(), (file + ".1").c_str()))
          std::fprintf(stderr, "ubc-console: rename(%s): %s\n", file.c_str(), std::strerror(errno));
        output = open_console(file);
        if (output < 0) return 1;
        written = 0;
      }
      const auto room = static_cast<ssize_t>(std::min<unsigned long long>(max_bytes - written, got - done));
      const ssize_t put = ::write(output, buffer + done, room);
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) return 1;  // the host's disk is full: stop keeping, the CT goes on
      done += put;
      written += static_cast<unsigned long long>(put);
    }
  }
  return 0;
}
