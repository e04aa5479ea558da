// The first-level disk quota (diskspace, diskinodes, quotatime) in a real kernel: a CT
// whose files are on an ext4 with project quotas gets EDQUOT past its hard limit and past
// its soft one after the grace, sees its own size in `df`, writes on once the limit is raised
// live, and cannot take its files out of its project.
#include "ubc/disk_quota.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>

#include "loader/project_quota.h"
#include "running_ct.h"
#include "ubc/ct_config.h"
#include "ubc/metrics.h"
#include "workload.h"

using ubc::test::RunningCt;
using ubc::test::shell;
using ubc::test::ubcctl;

namespace {

namespace fs = std::filesystem;

// An ext4 with project quotas enforced, on a loop device, for the suite's CTs.
class QuotaFilesystem {
 public:
  QuotaFilesystem() {
    REQUIRE(shell("truncate -s 512M " + image_.string()).status == 0);
    const auto attached = shell("modprobe loop 2>/dev/null; losetup --find --show " + image_.string());
    if (attached.status != 0) {
      reason_ = "no loop device here (losetup: " + attached.output + ")";
      return;
    }
    loop_ = attached.output.substr(0, attached.output.find('\n'));
    fs::create_directories(mount_);
    const auto made =
        shell("mkfs.ext4 -q -O quota,project -E quotatype=prjquota,lazy_itable_init=0,lazy_journal_init=0 " + loop_ +
              " 2>&1 && mount -o prjquota " + loop_ + " " + mount_.string() + " 2>&1");
    if (made.status != 0) reason_ = "no ext4 with project quotas here (" + made.output + ")";
  }
  ~QuotaFilesystem() {
    shell("umount " + mount_.string() + " 2>/dev/null; losetup -d " + loop_ + " 2>/dev/null");
    fs::remove(image_);
  }
  QuotaFilesystem(const QuotaFilesystem&) = delete;
  QuotaFilesystem& operator=(const QuotaFilesystem&) = delete;

  bool usable() const {
    if (!reason_.empty()) MESSAGE("SKIP: " << reason_);
    return reason_.empty();
  }
  const fs::path& mount() const { return mount_; }

 private:
  fs::path image_ = fs::temp_directory_path() / "ubc-quota.img";
  fs::path mount_ = fs::temp_directory_path() / "ubc-quota";
  std::string loop_;
  std::string reason_;
};

std::uint32_t project_of(const RunningCt& ct) {
  const auto project = ubc::disk_quota_project(ubc::CtConfig::load(ubc::config_dir() / (ct.id() + ".conf")));
  REQUIRE(project.has_value());
  return *project;
}

ubc::quota::ProjectUsage usage_of(const RunningCt& ct) {
  return ubc::quota::project_usage(ct.root(), project_of(ct));
}

std::uint64_t used_kib(const RunningCt& ct) {
  // Before any limit the CT has a project only after a first set: read the tree's size then.
  return usage_of(ct).bytes / 1024;
}

std::string range(std::uint64_t soft, std::uint64_t hard) {
  return std::to_string(soft) + ":" + std::to_string(hard);
}

}  // namespace

TEST_SUITE("disk quota") {
  TEST_CASE("diskspace: EDQUOT past hard, df shows the CT's size, a live raise lets the writer go on, --save") {
    QuotaFilesystem filesystem;
    if (!filesystem.usable()) return;
    RunningCt ct("dq-space", "", "", filesystem.mount());
    // A first limit far above: the CT's files become its project; then limits from its use.
    const auto first = ubcctl("set " + ct.id() + " --diskspace 4G");
    REQUIRE_MESSAGE(first.status == 0, first.output);
    const std::uint64_t used = used_kib(ct);
    MESSAGE("the CT's files hold " << used << " KiB");
    CHECK(used > 1024);  // the whole tree was given to the project, not only its top
    const std::uint64_t soft = used + 8 * 1024, hard = used + 10 * 1024;
    REQUIRE(ubcctl("set " + ct.id() + " --diskspace " + range(soft, hard)).status == 0);
    const auto config = ubc::CtConfig::load(ubc::config_dir() / (ct.id() + ".conf"));
    CHECK_FALSE(config.get("DISKSPACE").has_value());  // not saved
    CHECK(config.get("QUOTA_PROJECT").has_value());    // the project is kept, saved or not

    // df in the CT: its own size (the soft limit, as ext4 reports a project) and use.
    const auto df = ct.exec("df -k / | tail -n 1");
    CAPTURE(df.output);
    std::istringstream words(df.output);
    std::string device;
    std::uint64_t size = 0, df_used = 0;
    words >> device >> size >> df_used;
    CHECK(size == soft);
    CHECK(df_used == doctest::Approx(static_cast<double>(used)).epsilon(0.05));

    const auto over = ct.exec("dd if=/dev/zero of=/big bs=1M count=20 2>&1; sync");
    CAPTURE(over.output);
    CHECK(over.output.find("Disk quota exceeded") != std::string::npos);
    const auto held = usage_of(ct);
    CHECK(held.bytes / 1024 <= hard);
    CHECK(held.bytes / 1024 >= hard - 1024);
    const auto quota = ubcctl("quota " + ct.id());
    CAPTURE(quota.output);
    CHECK(quota.output.find(std::to_string(soft)) != std::string::npos);
    CHECK(quota.output.find(std::to_string(hard)) != std::string::npos);
    const auto listed = ubcctl("list -o ctid,diskspace.s,diskspace.h");
    CHECK(listed.output.find(std::to_string(hard)) != std::string::npos);
    // ubcd's series: the same figures, and "over soft" while past it.
    std::map<std::string, double> series;
    for (const auto& family : ubc::collect_metrics(ubc::test::host()))
      for (const auto& metric : family.metric) {
        std::string key = family.name;
        for (const auto& label : metric.label) key += "," + label.value;
        series[key] = family.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
      }
    CHECK(series["ubc_disk_used_bytes," + ct.id()] == static_cast<double>(usage_of(ct).bytes));
    CHECK(series["ubc_disk_limit_bytes," + ct.id() + ",hard"] == hard * 1024.0);
    CHECK(series["ubc_disk_limit_bytes," + ct.id() + ",soft"] == soft * 1024.0);
    CHECK(series["ubc_disk_over_soft_limit," + ct.id() + ",diskspace"] == 1);
    CHECK(series["ubc_disk_over_soft_limit," + ct.id() + ",diskinodes"] == 0);

    // A writer that keeps trying: held at the limit, on at once when it is raised.
    REQUIRE(ct.exec("rm -f /big").status == 0);
    REQUIRE(ct.exec("(i=0; while [ $i -lt 16 ]; do dd if=/dev/zero of=/w$i bs=1M count=1 2>/dev/null && "
                    "i=$((i+1)) || sleep 0.2; done; touch /writer.done) >/dev/null 2>&1 </dev/null &")
                .status == 0);
    std::this_thread::sleep_for(std::chrono::seconds(4));
    CHECK(ct.exec("test -e /writer.done").status != 0);  // 16 MiB do not fit in 10
    REQUIRE(ubcctl("set " + ct.id() + " --diskspace " + range(used + 40 * 1024, used + 40 * 1024) + " --save").status ==
            0);
    bool done = false;
    for (int i = 0; i < 60 && !done; ++i) {
      done = ct.exec("test -e /writer.done").status == 0;
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    CHECK(done);
    CHECK(ubc::CtConfig::load(ubc::config_dir() / (ct.id() + ".conf")).get("DISKSPACE") ==
          range(used + 40 * 1024, used + 40 * 1024));
    // Applied again at the next start.
    REQUIRE(ubcctl("restart " + ct.id()).status == 0);
    CHECK(usage_of(ct).limits.block_hard == used + 40 * 1024);
    // Refused whole.
    CHECK(ubcctl("set " + ct.id() + " --diskspace 10M:5M").status == 2);
    CHECK(ubcctl("set " + ct.id() + " --diskinodes lots").status == 2);
    CHECK(usage_of(ct).limits.block_hard == used + 40 * 1024);
  }

  TEST_CASE("diskinodes and quotatime: EDQUOT past the inode limit, and past the soft limit after the grace") {
    QuotaFilesystem filesystem;
    if (!filesystem.usable()) return;
    RunningCt ct("dq-inodes", "", "", filesystem.mount());
    REQUIRE(ubcctl("set " + ct.id() + " --diskinodes 1000000").status == 0);
    const std::uint64_t inodes = usage_of(ct).inodes;
    REQUIRE(ubcctl("set " + ct.id() + " --diskinodes " + range(inodes + 50, inodes + 60)).status == 0);
    const auto made = ct.exec(
        "mkdir /many && n=0; while [ $n -lt 100 ] && touch /many/f$n 2>/dev/null; do n=$((n+1)); done; "
        "echo $n; touch /many/extra 2>&1");
    CAPTURE(made.output);
    const int files = std::stoi(made.output);
    CHECK(files <= 59);  // /many is one of the 60
    CHECK(files >= 57);
    CHECK(made.output.find("Disk quota exceeded") != std::string::npos);

    // Grace: 2 s past the soft limit, then the soft limit holds as hard.
    const std::uint64_t used = usage_of(ct).bytes / 1024;
    REQUIRE(ubcctl("set " + ct.id() + " --diskinodes 0:0 --quotatime 2 --diskspace " +
                   range(used + 4 * 1024, used + 64 * 1024))
                .status == 0);
    const auto past_soft = ct.exec("dd if=/dev/zero of=/soft bs=1M count=8 2>&1 && sync");
    CHECK_MESSAGE(past_soft.status == 0, past_soft.output);  // under hard: allowed, the grace starts
    CHECK(usage_of(ct).block_grace_end > 0);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const auto after_grace = ct.exec("dd if=/dev/zero of=/late bs=1M count=1 2>&1; sync");
    CAPTURE(after_grace.output);
    CHECK(after_grace.output.find("Disk quota exceeded") != std::string::npos);
    CHECK(ubcctl("quota " + ct.id()).output.find("expired") != std::string::npos);
  }

  TEST_CASE("hostile: a CT's root cannot take its files out of its project or read the quota") {
    QuotaFilesystem filesystem;
    if (!filesystem.usable()) return;
    for (const char* userns : {"", "--userns no"}) {
      CAPTURE(userns);
      RunningCt ct(std::string("dq-hostile") + (*userns ? "-root" : ""), userns, "", filesystem.mount());
      REQUIRE(ubcctl("set " + ct.id() + " --diskspace 1G").status == 0);
      REQUIRE(ct.exec("dd if=/dev/zero of=/mine bs=1M count=2 2>/dev/null").status == 0);
      const auto moved = ct.exec("ubc-escape setproject /mine 0");
      CHECK(moved.output == "EPERM\n");
      CHECK(ct.exec("ubc-escape setproject / 0").output == "EPERM\n");
      CHECK(ct.exec("ubc-escape quota /").output == "EPERM\n");
      CHECK(ubc::quota::project_of(ct.root() / "mine") == project_of(ct));
      // Nor make a directory whose new files are no project's.
      REQUIRE(ct.exec("mkdir /spill").status == 0);
      const auto cleared = ct.exec("ubc-escape noinherit /spill; touch /spill/new");
      CHECK(cleared.output.find("ok") == std::string::npos);
      CHECK(ubc::quota::project_of(ct.root() / "spill" / "new") == project_of(ct));
    }
  }
}
