// The I/O policy (ioprio, iolimit, iopslimit) in a real kernel: io.max throttles a CT's
// reads and writes on its granted devices and on the disk its files are on, BFQ shares a
// busy device by ioprio, values change on a running CT and are kept with --save, and a CT's
// root cannot lift its own limits. The devices are null_blk (fixed latency, no backing
// store) and a loop device holding ext4.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "loader/cgroup.h"
#include "running_ct.h"
#include "sched/io_policy.h"
#include "ubc/ct_config.h"
#include "ubc/proc_files.h"
#include "workload.h"

using ubc::test::host;
using ubc::test::RunningCt;
using ubc::test::shell;
using ubc::test::ubcctl;

namespace {

namespace fs = std::filesystem;

// A null_blk disk for a test: every request completes after `latency`, whatever is read or
// written, so that throughput depends on the policy alone.
class NullDisk {
 public:
  explicit NullDisk(std::chrono::microseconds latency = std::chrono::microseconds(200)) {
    const auto loaded = shell(
        "modprobe -r null_blk 2>/dev/null; modprobe null_blk nr_devices=1 queue_mode=2 irqmode=2 completion_nsec=" +
        std::to_string(latency.count() * 1000) + " gb=4 bs=4096 2>&1 && cat /sys/block/nullb0/dev");
    if (loaded.status != 0) {
      reason_ = "no null_blk here (" + loaded.output + ")";
      return;
    }
    const auto colon = loaded.output.find(':');
    device_ = {static_cast<unsigned>(std::stoul(loaded.output.substr(0, colon))),
               static_cast<unsigned>(std::stoul(loaded.output.substr(colon + 1)))};
    // Userns CTs' roots are not host root: the node they get keeps the host's mode.
    shell("chmod 0666 /dev/nullb0");
  }
  ~NullDisk() {
    if (reason_.empty()) shell("modprobe -r null_blk");
  }
  NullDisk(const NullDisk&) = delete;
  NullDisk& operator=(const NullDisk&) = delete;

  bool usable() const {
    if (!reason_.empty()) MESSAGE("SKIP: " << reason_);
    return reason_.empty();
  }
  const ubc::sched::BlockDevice& device() const { return device_; }
  bool use_scheduler(const std::string& name) const {
    shell("modprobe " + name + " 2>/dev/null");
    return shell("echo " + name + " > /sys/block/nullb0/queue/scheduler").status == 0;
  }

 private:
  std::string reason_;
  ubc::sched::BlockDevice device_;
};

ubc::proc_files::IoCounts io_counts(const std::string& ctid, const ubc::sched::BlockDevice& device) {
  const auto figures = ubc::proc_files::parse_io_stat(ubc::cgroup::read_file(host().cgroup_of(ctid) / "io.stat"));
  const auto found = figures.find({device.major, device.minor});
  return found == figures.end() ? ubc::proc_files::IoCounts{} : found->second;
}

// What the CTs' I/O on `device` did per second over `window`, after a second to settle.
struct Rates {
  double read_bytes = 0, write_bytes = 0, reads = 0;
};
std::vector<Rates> rates(const std::vector<std::string>& ctids, const ubc::sched::BlockDevice& device,
                         std::chrono::milliseconds window) {
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<ubc::proc_files::IoCounts> before;
  for (const auto& ctid : ctids) before.push_back(io_counts(ctid, device));
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  std::vector<Rates> measured;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t i = 0; i < ctids.size(); ++i) {
    const auto after = io_counts(ctids[i], device);
    measured.push_back({(after.rbytes - before[i].rbytes) / seconds, (after.wbytes - before[i].wbytes) / seconds,
                        (after.rios - before[i].rios) / seconds});
  }
  return measured;
}

// Starts `command` in the CT's background, its output dropped.
void in_background(const RunningCt& ct, const std::string& command) {
  REQUIRE(ct.exec("(" + command + ") >/dev/null 2>&1 </dev/null &").status == 0);
}

void stop_dd(const RunningCt& ct) {
  ct.exec("killall dd 2>/dev/null; true");
}

std::vector<ubc::sched::IoMaxEntry> io_max_of(const std::string& ctid) {
  return ubc::sched::parse_io_max(ubc::cgroup::read_file(host().cgroup_of(ctid) / "io.max"));
}

std::optional<ubc::sched::IoMaxEntry> io_max_for(const std::string& ctid, const ubc::sched::BlockDevice& device) {
  for (const auto& entry : io_max_of(ctid))
    if (entry.device == device) return entry;
  return std::nullopt;
}

constexpr double kMiB = 1024.0 * 1024.0;
const std::string kReadNullDisk = "dd if=/dev/nullb0 of=/dev/null bs=64k iflag=direct";

}  // namespace

TEST_SUITE("io") {
  TEST_CASE("--iolimit and --iopslimit throttle a running CT at once; --save keeps them; bad values change nothing") {
    NullDisk disk;
    if (!disk.usable()) return;
    RunningCt ct("io-limits", "--userns no");
    REQUIRE(ubcctl("set " + ct.id() + " --devices nullb0:rw").status == 0);
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    CHECK_FALSE(io_max_for(ct.id(), disk.device()).has_value());  // nothing set: no line

    // vzctl's unit: megabytes per second.
    const auto set = ubcctl("set " + ct.id() + " --iolimit 10");
    REQUIRE_MESSAGE(set.status == 0, set.output);
    auto entry = io_max_for(ct.id(), disk.device());
    REQUIRE(entry.has_value());
    CHECK(entry->rbps == 10 * 1024 * 1024);
    CHECK(entry->wbps == 10 * 1024 * 1024);
    CHECK(entry->riops == 0);
    in_background(ct, kReadNullDisk);
    const double capped = rates({ct.id()}, disk.device(), std::chrono::seconds(4)).front().read_bytes / kMiB;
    MESSAGE("--iolimit 10M: the CT read " << capped << " MiB/s");
    CHECK(capped == doctest::Approx(10).epsilon(0.10));

    // Raised live: the same reader goes faster at once.
    REQUIRE(ubcctl("set " + ct.id() + " --iolimit 20M").status == 0);
    const double raised = rates({ct.id()}, disk.device(), std::chrono::seconds(3)).front().read_bytes / kMiB;
    MESSAGE("raised to 20M: " << raised << " MiB/s");
    CHECK(raised == doctest::Approx(20).epsilon(0.10));
    stop_dd(ct);

    // Operations: 4 KiB reads at 100 a second.
    REQUIRE(ubcctl("set " + ct.id() + " --iolimit 0 --iopslimit 100").status == 0);
    entry = io_max_for(ct.id(), disk.device());
    REQUIRE(entry.has_value());
    CHECK(entry->rbps == 0);
    CHECK(entry->riops == 100);
    CHECK(entry->wiops == 100);
    in_background(ct, "dd if=/dev/nullb0 of=/dev/null bs=4k iflag=direct");
    const double ops = rates({ct.id()}, disk.device(), std::chrono::seconds(4)).front().reads;
    MESSAGE("--iopslimit 100: " << ops << " reads/s");
    CHECK(ops == doctest::Approx(100).epsilon(0.10));
    stop_dd(ct);

    // Shown by list; not saved without --save, so a restart lifts them.
    auto listed = ubcctl("list -o ctid,ioprio,iolimit,iopslimit");
    CAPTURE(listed.output);
    CHECK(listed.output.find(ct.id()) != std::string::npos);
    CHECK(listed.output.find(" 4 ") != std::string::npos);
    CHECK(listed.output.find(" 100") != std::string::npos);
    const fs::path config = ubc::config_dir() / (ct.id() + ".conf");
    CHECK_FALSE(ubc::CtConfig::load(config).get("IOPSLIMIT").has_value());
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    entry = io_max_for(ct.id(), disk.device());
    CHECK((!entry || (entry->riops == 0 && entry->rbps == 0)));

    // Saved: in the config in bytes, and applied by the next start.
    REQUIRE(ubcctl("set " + ct.id() + " --iolimit 512K --iopslimit 300 --ioprio 6 --save").status == 0);
    CHECK(ubc::CtConfig::load(config).get("IOLIMIT") == "524288");
    CHECK(ubc::CtConfig::load(config).get("IOPSLIMIT") == "300");
    CHECK(ubc::CtConfig::load(config).get("IOPRIO") == "6");
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    entry = io_max_for(ct.id(), disk.device());
    REQUIRE(entry.has_value());
    CHECK(entry->rbps == 524288);
    CHECK(entry->wiops == 300);
    const fs::path cgroup = host().cgroup_of(ct.id());
    CHECK(ubc::cgroup::read_file(cgroup / "io.weight")
              .starts_with("default " + std::to_string(ubc::sched::io_weight(6))));

    // Refused whole: nothing changes.
    for (const char* bad : {"--ioprio 8", "--iolimit 10T", "--iopslimit lots", "--iolimit 5M --ioprio 9"}) {
      CAPTURE(bad);
      CHECK(ubcctl("set " + ct.id() + " " + bad).status == 2);
    }
    entry = io_max_for(ct.id(), disk.device());
    REQUIRE(entry.has_value());
    CHECK(entry->rbps == 524288);
    CHECK(ubc::CtConfig::load(config).get("IOPRIO") == "6");
    CHECK(ubcctl("set 0 --iolimit 5M").status == 2);  // the host takes --cpuunits only
  }

  TEST_CASE("--iolimit holds the disk a CT's files are on: writes to its own ext4 are throttled") {
    const fs::path image = fs::temp_directory_path() / "ubc-io-ext4.img";
    const fs::path mount_point = fs::temp_directory_path() / "ubc-io-ext4";
    REQUIRE(shell("truncate -s 256M " + image.string()).status == 0);
    const auto attached = shell("modprobe loop 2>/dev/null; losetup --direct-io=on --find --show " + image.string());
    if (attached.status != 0) {
      MESSAGE("SKIP: no loop device here (losetup: " << attached.output << ")");
      return;
    }
    const std::string loop = attached.output.substr(0, attached.output.find('\n'));
    fs::create_directories(mount_point);
    REQUIRE(shell("mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 " + loop + " && mount " + loop + " " +
                  mount_point.string())
                .status == 0);
    const auto device = shell("cat /sys/block/" + fs::path(loop).filename().string() + "/dev").output;
    const auto colon = device.find(':');
    const ubc::sched::BlockDevice disk{static_cast<unsigned>(std::stoul(device.substr(0, colon))),
                                       static_cast<unsigned>(std::stoul(device.substr(colon + 1)))};
    {
      RunningCt ct("io-own-disk", "", "", mount_point);
      // Its file first, unthrottled: what is measured below is data alone, no block allocation
      // (whose journal commits come and go with the host's timing).
      REQUIRE(ct.exec("dd if=/dev/zero of=/fill bs=64k count=512 oflag=direct 2>&1").status == 0);
      REQUIRE(ubcctl("set " + ct.id() + " --iolimit 4M").status == 0);
      const auto entry = io_max_for(ct.id(), disk);
      REQUIRE(entry.has_value());
      CHECK(entry->rbps == 4 * 1024 * 1024);
      CHECK(entry->wbps == 4 * 1024 * 1024);
      // 32 MiB at 4 MiB/s outlasts each window.
      in_background(ct, "dd if=/fill of=/dev/null bs=64k iflag=direct");
      const double read = rates({ct.id()}, disk, std::chrono::seconds(3)).front().read_bytes / kMiB;
      stop_dd(ct);
      in_background(ct, "dd if=/dev/zero of=/fill bs=64k count=512 conv=notrunc oflag=direct");
      const double written = rates({ct.id()}, disk, std::chrono::seconds(3)).front().write_bytes / kMiB;
      MESSAGE("--iolimit 4M on the disk of the CT's own files: read " << read << " MiB/s, wrote " << written
                                                                      << " MiB/s");
      CAPTURE(ubc::cgroup::read_file(host().cgroup_of(ct.id()) / "io.stat"));
      CHECK(read == doctest::Approx(4).epsilon(0.10));
      CHECK(written == doctest::Approx(4).epsilon(0.10));
      stop_dd(ct);
      const auto listed = ubcctl("list -j -o ctid,iolimit");
      CHECK(listed.output.find("4194304") != std::string::npos);
    }
    shell("umount " + mount_point.string() + "; losetup -d " + loop);
    fs::remove(image);
  }

  TEST_CASE("under BFQ, CTs at ioprio 0 and 7 share a busy disk in their weights' ratio") {
    // Slow requests: the disk, not the emulated CPU, must be what the two readers wait for
    // (at 200 us both were CPU-bound in single-threaded TCG and shared by the CPU's policy).
    NullDisk disk(std::chrono::milliseconds(2));
    if (!disk.usable()) return;
    if (!disk.use_scheduler("bfq")) {
      MESSAGE("SKIP: this kernel has no BFQ");
      return;
    }
    // BFQ's heuristics trade the weights for throughput: low_latency raises the weight of
    // queues that just started, for seconds, and on a disk that takes many requests at once
    // BFQ may stop idling between a queue's requests, so both readers are served at once (a
    // ratio of 1.1-1.3 in 2 of 6 runs). A host that wants the shares held sets both, as here
    // (docs/IO.md).
    REQUIRE(shell("echo 0 > /sys/block/nullb0/queue/iosched/low_latency && "
                  "echo 1 > /sys/block/nullb0/queue/iosched/strict_guarantees")
                .status == 0);
    RunningCt low("io-prio-low", "--userns no");
    RunningCt high("io-prio-high", "--userns no");
    for (const RunningCt* ct : {&low, &high}) {
      REQUIRE(ubcctl("set " + ct->id() + " --devices nullb0:r").status == 0);
      REQUIRE(ubcctl("restart " + ct->id()).status == 0);
    }
    REQUIRE(ubcctl("set " + low.id() + " --ioprio 0").status == 0);
    REQUIRE(ubcctl("set " + high.id() + " --ioprio 7").status == 0);
    CHECK(ubc::cgroup::read_file(host().cgroup_of(low.id()) / "io.bfq.weight").starts_with("default 64"));
    CHECK(ubc::cgroup::read_file(host().cgroup_of(high.id()) / "io.bfq.weight").starts_with("default 128"));
    const auto doctor = ubcctl("doctor");
    CAPTURE(doctor.output);
    const auto line_start = doctor.output.find(disk.device().text() + " ");
    REQUIRE(line_start != std::string::npos);
    const std::string line = doctor.output.substr(line_start, doctor.output.find('\n', line_start) - line_start);
    CHECK(line.find("nullb0") != std::string::npos);
    CHECK(line.find("scheduler bfq") != std::string::npos);
    CHECK(line.find("enforced through io.bfq.weight") != std::string::npos);

    in_background(low, kReadNullDisk);
    in_background(high, kReadNullDisk);
    const auto measured = rates({low.id(), high.id()}, disk.device(), std::chrono::seconds(10));
    stop_dd(low);
    stop_dd(high);
    const double ratio = measured[1].read_bytes / measured[0].read_bytes;
    MESSAGE("BFQ: ioprio 7 read " << measured[1].read_bytes / kMiB << " MiB/s, ioprio 0 "
                                  << measured[0].read_bytes / kMiB << " MiB/s: ratio " << ratio
                                  << " (weights 128:64 = 2)");
    CHECK(ratio == doctest::Approx(2.0).epsilon(0.15));
  }

  TEST_CASE("hostile: a CT's root cannot lift its own I/O limits, from its cgroup or a child of it") {
    NullDisk disk;
    if (!disk.usable()) return;
    RunningCt ct("io-hostile", "");  // its own user namespace, its cgroup delegated to its root
    REQUIRE(ubcctl("set " + ct.id() + " --devices nullb0:r").status == 0);
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    REQUIRE(ubcctl("set " + ct.id() + " --iolimit 8M --ioprio 0").status == 0);
    const std::string lift = disk.device().text() + " rbps=max wbps=max riops=max wiops=max";
    const auto own = ct.exec("echo \"" + lift +
                             "\" > /sys/fs/cgroup/io.max && echo LIFTED; echo 1000 > "
                             "/sys/fs/cgroup/io.bfq.weight && echo WEIGHTED; echo 1000 > /sys/fs/cgroup/io.weight "
                             "&& echo WEIGHTED; true");
    CAPTURE(own.output);
    CHECK(own.output.find("LIFTED") == std::string::npos);
    CHECK(own.output.find("WEIGHTED") == std::string::npos);
    // A child cgroup it makes may set what it likes: the parent's limit still holds.
    const auto child = ct.exec(
        "mkdir -p /sys/fs/cgroup/escape && echo +io > /sys/fs/cgroup/cgroup.subtree_control; "
        "echo \"" +
        lift +
        "\" > /sys/fs/cgroup/escape/io.max; "
        "sh -c \"echo \\$\\$ > /sys/fs/cgroup/escape/cgroup.procs && exec " +
        kReadNullDisk + "\" >/dev/null 2>&1 </dev/null &");
    CAPTURE(child.output);
    const double rate = rates({ct.id()}, disk.device(), std::chrono::seconds(3)).front().read_bytes / kMiB;
    MESSAGE("a CT's reader in a child cgroup that set io.max to max: " << rate << " MiB/s (its limit 8)");
    CHECK(rate > 1);  // it did read (the check below would pass on a CT that read nothing)
    CHECK(rate == doctest::Approx(8).epsilon(0.10));
    stop_dd(ct);
    auto entry = io_max_for(ct.id(), disk.device());
    REQUIRE(entry.has_value());
    CHECK(entry->rbps == 8 * 1024 * 1024);
  }
}
