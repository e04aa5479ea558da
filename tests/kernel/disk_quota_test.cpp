// The first-level disk quota (diskspace, diskinodes, quotatime) in a real kernel: a CT
// whose files are on an ext4 with project quotas gets EDQUOT past its hard limit and past
// its soft one after the grace, sees its own size in `df`, writes on once the limit is raised
// live, and cannot take its files out of its project.
#include "ubc/disk_quota.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/quota.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>

#include "loader/id_quota.h"
#include "loader/project_quota.h"
#include "loader/unique_fd.h"
#include "running_ct.h"
#include "ubc/ct_config.h"
#include "ubc/ct_settings.h"
#include "ubc/metrics.h"
#include "workload.h"

using ubc::test::RunningCt;
using ubc::test::shell;
using ubc::test::ubcctl;

namespace {

namespace fs = std::filesystem;

// A filesystem with user, group and project quotas enforced, on a loop device, for the
// suite's CTs: ext4 (made with the quota feature) or XFS.
class QuotaFilesystem {
 public:
  enum class Kind { ext4, xfs };
  explicit QuotaFilesystem(Kind kind = Kind::ext4) {
    REQUIRE(shell("truncate -s 512M " + image_.string()).status == 0);
    const auto attached = shell("modprobe loop 2>/dev/null; losetup --find --show " + image_.string());
    if (attached.status != 0) {
      reason_ = "no loop device here (losetup: " + attached.output + ")";
      return;
    }
    loop_ = attached.output.substr(0, attached.output.find('\n'));
    fs::create_directories(mount_);
    const std::string make =
        kind == Kind::ext4
            ? "mkfs.ext4 -q -O quota,project -E quotatype=usrquota:grpquota:prjquota,lazy_itable_init=0,"
              "lazy_journal_init=0 " +
                  loop_ + " 2>&1 && mount -o usrquota,grpquota,prjquota "
            : "modprobe xfs 2>/dev/null; mkfs.xfs -q -f " + loop_ + " 2>&1 && mount -o uquota,gquota,pquota ";
    const auto made = shell(make + loop_ + " " + mount_.string() + " 2>&1");
    if (made.status != 0)
      reason_ = std::string("no ") + (kind == Kind::ext4 ? "ext4" : "XFS") + " with quotas here (" + made.output + ")";
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

// The host id of the CT's id 0.
std::uint32_t host_first_id(const RunningCt& ct) {
  const auto config = ubc::CtConfig::load(ubc::config_dir() / (ct.id() + ".conf"));
  REQUIRE(config.get("USERNS_IDMAP").has_value());
  return ubc::parse_user_mapping(*config.get("USERNS_IDMAP")).host_first;
}

// One id's quota on the filesystem, as the host reads it.
if_dqblk host_quota(const fs::path& on, int type, std::uint32_t host_id) {
  const ubc::UniqueFd fd(::open(on.c_str(), O_PATH | O_CLOEXEC));
  if_dqblk block{};
  REQUIRE(ubc::quota::quotactl_fd(fd.get(), QCMD(Q_GETQUOTA, type), host_id, &block) == 0);
  return block;
}

// The second level switched on: saved, then a restart (the CT's /dev gets its disk's node),
// and a user "u" (uid and gid 1000) with a home that busybox su can become.
void turn_on_second_level(const RunningCt& ct, unsigned ugid_limit) {
  const auto on = ubcctl("set " + ct.id() + " --quotaugidlimit " + std::to_string(ugid_limit) + " --save");
  REQUIRE_MESSAGE(on.status == 0, on.output);
  CHECK(on.output.find("next start") != std::string::npos);
  REQUIRE(ubcctl("restart " + ct.id()).status == 0);
  REQUIRE(ct.exec("echo u:x:1000:1000::/home/u:/bin/sh >> /etc/passwd && echo u:x:1000: >> /etc/group && "
                  "mkdir -p /home/u && chown 1000:1000 /home/u")
              .status == 0);
}

// As the CT's user u.
ubc::test::CommandRun as_user(const RunningCt& ct, const std::string& command) {
  return ct.exec("su u -c \"" + command + "\" 2>&1");
}

}  // namespace

TEST_SUITE("disk quota") {
  TEST_CASE("second level: the CT's root runs setquota and repquota, its user gets EDQUOT, QUOTAUGIDLIMIT counts") {
    QuotaFilesystem filesystem;
    if (!filesystem.usable()) return;
    std::uint32_t first = 0;
    {
      RunningCt ct("dq-ugid", "", "setquota repquota quota", filesystem.mount());
      first = host_first_id(ct);
      // Off: refused as in any CT.
      CHECK(ct.exec("setquota -u 1000 1024 2048 0 0 /").status != 0);
      turn_on_second_level(ct, 3);
      const auto set = ct.exec("setquota -u 1000 1024 2048 0 0 / 2>&1");
      REQUIRE_MESSAGE(set.status == 0, set.output);
      // On the user's host id, in 1 KiB blocks.
      CHECK(host_quota(filesystem.mount(), USRQUOTA, first + 1000).dqb_bhardlimit == 2048);
      CHECK(host_quota(filesystem.mount(), USRQUOTA, 1000).dqb_bhardlimit == 0);  // not the host's uid 1000
      const auto over = as_user(ct, "dd if=/dev/zero of=/home/u/f bs=1M count=4; sync");
      CAPTURE(over.output);
      CHECK(over.output.find("Disk quota exceeded") != std::string::npos);
      CHECK(host_quota(filesystem.mount(), USRQUOTA, first + 1000).dqb_curspace <= 2048 * 1024);
      const auto own = as_user(ct, "quota -u u");
      CAPTURE(own.output);
      CHECK(own.output.find("2048") != std::string::npos);
      const auto report = ct.exec("repquota -un / 2>&1");
      CAPTURE(report.output);
      CHECK(report.output.find("#1000") != std::string::npos);
      CHECK(report.output.find("2048") != std::string::npos);
      CHECK(report.output.find("#" + std::to_string(first)) == std::string::npos);  // ids as the CT numbers them

      // QUOTAUGIDLIMIT 3: users and groups together; raised live, the fourth goes through.
      REQUIRE(ct.exec("setquota -u 1001 100 200 0 0 / && setquota -g 1000 1000 2000 0 0 /").status == 0);
      const auto fourth = ct.exec("setquota -u 1002 100 200 0 0 / 2>&1");
      CAPTURE(fourth.output);
      CHECK(fourth.status != 0);
      CHECK(host_quota(filesystem.mount(), USRQUOTA, first + 1002).dqb_bhardlimit == 0);
      REQUIRE(ubcctl("set " + ct.id() + " --quotaugidlimit 4").status == 0);
      CHECK(ct.exec("setquota -u 1002 100 200 0 0 /").status == 0);
      std::istringstream listed(ubcctl("list -o ctid,quotaugidlimit").output);
      std::map<std::string, std::string> ugid_limits;
      for (std::string ctid, limit; listed >> ctid >> limit;) ugid_limits[ctid] = limit;
      CHECK(ugid_limits[ct.id()] == "4");

      // Under the first level: the CT's total holds, whatever its users may.
      REQUIRE(ct.exec("setquota -u 1000 0 0 0 0 / && rm -f /home/u/f").status == 0);
      REQUIRE(ubcctl("set " + ct.id() + " --diskspace 4G").status == 0);
      const std::uint64_t used = used_kib(ct);
      REQUIRE(ubcctl("set " + ct.id() + " --diskspace " + range(used + 1024, used + 1024)).status == 0);
      const auto total = as_user(ct, "dd if=/dev/zero of=/home/u/g bs=1M count=4; sync");
      CAPTURE(total.output);
      CHECK(total.output.find("Disk quota exceeded") != std::string::npos);
      CHECK(usage_of(ct).bytes / 1024 <= used + 1024);

      // Hostile: the CT's root reaches no project, no id past its own, no usage figure and no
      // switch; a user sets nothing and reads only its own; a nested namespace's root is no one.
      // The disk as the CT's mount table names it, and its /dev has it.
      const std::string source = shell("findmnt -no SOURCE " + filesystem.mount().string()).output;
      const std::string disk = source.substr(0, source.find('\n'));
      for (const std::string& on : {std::string("/"), disk}) {
        CAPTURE(on);
        const auto project = std::to_string(project_of(ct));
        CHECK(ct.exec("ubc-escape quotactl p limit " + project + " " + on).output == "EPERM\n");
        CHECK(ct.exec("ubc-escape quotactl p get " + project + " " + on).output == "EPERM\n");
        CHECK(ct.exec("ubc-escape quotactl u limit 65536 " + on).output == "EINVAL\n");
        CHECK(ct.exec("ubc-escape quotactl u usage 1000 " + on).output == "EPERM\n");
        CHECK(ct.exec("ubc-escape quotactl u off 0 " + on).output == "EPERM\n");
        CHECK(ct.exec("ubc-escape quotactl g grace 0 " + on).output == "EPERM\n");
        CHECK(ct.exec("ubc-escape quotactl u get 1000 " + on).output == "ok\n");
        CHECK(as_user(ct, "ubc-escape quotactl u get 1000 " + on).output == "ok\n");
        CHECK(as_user(ct, "ubc-escape quotactl u get 1001 " + on).output == "EPERM\n");
        CHECK(as_user(ct, "ubc-escape quotactl u limit 1000 " + on).output == "EPERM\n");
        CHECK(ct.exec("unshare -U -r ubc-escape quotactl u limit 1000 " + on).output == "EPERM\n");
      }
      CHECK(host_quota(filesystem.mount(), USRQUOTA, first + 1000).dqb_bhardlimit == 0);
      CHECK(host_quota(filesystem.mount(), USRQUOTA, first + 65536).dqb_bhardlimit == 0);
      // Another filesystem, and the disk's node opened.
      CHECK(ct.exec("ubc-escape quotactl u get 0 /dev").output == "ENODEV\n");
      CHECK(ct.exec("ubc-escape quotactl u get 0 /dev/null").output == "ENOTBLK\n");
      CHECK(ct.exec("head -c 1 " + disk + " >/dev/null 2>&1").status != 0);
    }
    // Destroyed: its ids' limits go with it, so the range comes clean to the next CT.
    CHECK(host_quota(filesystem.mount(), USRQUOTA, first + 1001).dqb_bhardlimit == 0);
    CHECK(host_quota(filesystem.mount(), GRPQUOTA, first + 1000).dqb_bhardlimit == 0);

    // A CT without a user namespace has the host's ids: refused, saying why.
    RunningCt root_ct("dq-ugid-root", "--userns no", "", filesystem.mount());
    const auto refused = ubcctl("set " + root_ct.id() + " --quotaugidlimit 3 --save");
    CHECK(refused.status != 0);
    CHECK(refused.output.find("user namespace") != std::string::npos);
  }

  TEST_CASE("XFS: diskspace (ENOSPC there) and df as on ext4, and the second level") {
    QuotaFilesystem filesystem(QuotaFilesystem::Kind::xfs);
    if (!filesystem.usable()) return;
    RunningCt ct("dq-xfs", "", "setquota repquota", filesystem.mount());
    REQUIRE(ubcctl("set " + ct.id() + " --diskspace 4G").status == 0);
    const std::uint64_t used = used_kib(ct);
    CHECK(used > 1024);
    const std::uint64_t hard = used + 10 * 1024;
    REQUIRE(ubcctl("set " + ct.id() + " --diskspace " + range(hard, hard)).status == 0);
    const auto df = ct.exec("df -k / | tail -n 1");
    CAPTURE(df.output);
    std::istringstream words(df.output);
    std::string device;
    std::uint64_t size = 0;
    words >> device >> size;
    CHECK(size == hard);
    // XFS refuses past a project's limit with ENOSPC (its project quotas are directory
    // trees that look full), not EDQUOT.
    const auto over = ct.exec("dd if=/dev/zero of=/big bs=1M count=20 2>&1; sync");
    CAPTURE(over.output);
    CHECK(over.output.find("No space left on device") != std::string::npos);
    CHECK(usage_of(ct).bytes / 1024 <= hard);
    REQUIRE(ct.exec("rm /big").status == 0);

    turn_on_second_level(ct, 2);
    const auto set = ct.exec("setquota -u 1000 1024 2048 0 0 / 2>&1");
    REQUIRE_MESSAGE(set.status == 0, set.output);
    CHECK(host_quota(filesystem.mount(), USRQUOTA, host_first_id(ct) + 1000).dqb_bhardlimit == 2048);
    const auto user_over = as_user(ct, "dd if=/dev/zero of=/home/u/f bs=1M count=4; sync");
    CAPTURE(user_over.output);
    CHECK(user_over.output.find("Disk quota exceeded") != std::string::npos);
    const auto report = ct.exec("repquota -un / 2>&1");
    CAPTURE(report.output);
    CHECK(report.output.find("#1000") != std::string::npos);
  }

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
