// mountinfo's one reader: fields after the optional ones, escaped mount points.
#include "loader/mountinfo.h"

#include <doctest/doctest.h>

TEST_CASE("mountinfo lines: mount point unescaped, fstype and super options after the separator") {
  const auto mounts = ubc::parse_mountinfo(
      "29 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
      "40 29 0:30 / /srv/my\\040dir rw master:1 shared:7 - tmpfs tmpfs rw,size=10k\n"
      "garbage without a separator\n");
  REQUIRE(mounts.size() == 2);
  CHECK(mounts[0].mount_point == "/sys/fs/cgroup");
  CHECK(mounts[0].fstype == "cgroup2");
  CHECK(mounts[0].super_options == "rw,nsdelegate");
  CHECK(mounts[1].mount_point == "/srv/my dir");
  CHECK(mounts[1].fstype == "tmpfs");
}

TEST_CASE("mountinfo lines: the source and the device numbers") {
  const auto mounts = ubc::parse_mountinfo(
      "31 1 7:0 / /srv/ct rw,relatime - ext4 /dev/loop0 rw,usrquota,grpquota,prjquota\n"
      "32 1 253:17 / /data rw - xfs /dev/mapper/vg\\040one rw\n");
  REQUIRE(mounts.size() == 2);
  CHECK(mounts[0].source == "/dev/loop0");
  CHECK(mounts[0].major == 7);
  CHECK(mounts[0].minor == 0);
  CHECK(mounts[1].source == "/dev/mapper/vg one");
  CHECK(mounts[1].major == 253);
  CHECK(mounts[1].minor == 17);
}
