// A CT's process for the migration benchmark (tests/bench/migrate_bench): holds MIB MiB of
// anonymous memory, every page written once, then writes PAGES pages a second, round the
// buffer, until killed. Writes "ready" to the file READY once the memory is all there.
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: ubc-dirty-pages MIB PAGES_PER_SECOND READY_FILE\n");
    return 2;
  }
  const std::size_t bytes = std::strtoull(argv[1], nullptr, 10) << 20;
  const long per_second = std::strtol(argv[2], nullptr, 10);
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  auto* memory =
      static_cast<unsigned char*>(::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (memory == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  // Different bytes on every page: nothing a zero-page or same-page shortcut could skip.
  for (std::size_t offset = 0; offset < bytes; offset += page)
    memory[offset] = static_cast<unsigned char>(offset >> 12);
  std::ofstream(argv[3]) << "ready\n";
  const std::size_t pages = bytes / page;
  // Ten batches a second, each a tenth of the rate.
  const long batch = per_second / 10 > 0 ? per_second / 10 : 1;
  std::size_t next = 0;
  for (unsigned char value = 1;; ++value) {
    for (long i = 0; i < batch; ++i, next = (next + 1) % pages) memory[next * page] = value;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}
