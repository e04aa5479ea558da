#include "ubc/failcnt_baseline.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ubc {
namespace fs = std::filesystem;

void make_failcnt_relative(std::span<ContainerUsage> containers, const fs::path& file) {
  nlohmann::json baseline = nlohmann::json::object();
  if (std::ifstream in(file); in) {
    try {
      in >> baseline;
    } catch (const nlohmann::json::exception&) {
      baseline = nlohmann::json::object();  // a damaged baseline only costs one full reading
    }
  }
  nlohmann::json current = baseline;
  for (auto& container : containers) {
    for (auto& usage : container.resources) {
      const std::string name(usage.resource->name);
      const std::uint64_t now = usage.counter.failcnt;
      std::uint64_t before = 0;
      if (baseline.contains(container.id) && baseline[container.id].contains(name))
        before = baseline[container.id][name].get<std::uint64_t>();
      // A CT destroyed and created again starts from 0: a smaller count is a new CT.
      usage.counter.failcnt = now >= before ? now - before : now;
      current[container.id][name] = now;
    }
  }
  fs::create_directories(file.parent_path());
  const fs::path temporary = file.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary);
    out << current.dump(1) << "\n";
    if (!out) throw std::runtime_error("writing " + temporary.string() + " failed");
  }
  fs::rename(temporary, file);
}

}  // namespace ubc
