// A CT config's settings: addresses, device nodes, and the line a bad value is on.
#include "ubc/ct_settings.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "ubc/ct_config.h"
#include "ubc/ct_process.h"

namespace fs = std::filesystem;

TEST_CASE("CT addresses are IPv4 or IPv6, without masks") {
  CHECK(ubc::validate_ip_address("10.0.0.1") == ubc::IpFamily::v4);
  CHECK(ubc::validate_ip_address("fd00:77::1") == ubc::IpFamily::v6);
  CHECK(ubc::validate_ip_address("::1") == ubc::IpFamily::v6);
  for (const char* bad : {"10.0.0.1/24", "fd00::1/64", "10.0.0", "fd00:::1", "host.example", ""})
    CHECK_THROWS_AS(ubc::validate_ip_address(bad), std::invalid_argument);
}

TEST_CASE("IP_ADDRESS mixes both families; a bad address is refused with its line") {
  const fs::path file = fs::temp_directory_path() / "ubc-ct-settings-test.conf";
  std::ofstream(file) << "HOSTNAME=\"h\"\nIP_ADDRESS=\"10.0.0.2 fd00::2\"\n";
  const auto settings = ubc::CtSettings::from(ubc::CtConfig::load(file));
  CHECK(settings.ip_addresses == std::vector<std::string>{"10.0.0.2", "fd00::2"});
  std::ofstream(file) << "HOSTNAME=\"h\"\nIP_ADDRESS=\"10.0.0.2 fd00::2/64\"\n";
  try {
    ubc::CtSettings::from(ubc::CtConfig::load(file));
    FAIL("a masked address was accepted");
  } catch (const std::exception& error) {
    CAPTURE(error.what());
    CHECK(std::string(error.what()).find(":2:") != std::string::npos);
    CHECK(std::string(error.what()).find("fd00::2/64") != std::string::npos);
  }
  fs::remove(file);
}

TEST_CASE("device nodes are names under /dev with a mode") {
  CHECK(ubc::parse_device_node("ttyS0").writable);
  CHECK_FALSE(ubc::parse_device_node("sda1:r").writable);
  CHECK(ubc::parse_device_node("sda1:r").readable);
  CHECK_FALSE(ubc::parse_device_node("null:w").readable);  // vzctl's w: write only
  CHECK(ubc::parse_device_node("null:w").writable);
  CHECK(ubc::parse_device_node("net/tun:rw").name == "net/tun");
  for (const char* bad : {"", "/dev/sda", "../sda", "sda:x"})
    CHECK_THROWS_AS(ubc::parse_device_node(bad), std::invalid_argument);
}

TEST_CASE("interfaces moved into a CT have names the kernel takes") {
  CHECK_NOTHROW(ubc::validate_interface_name("eth1"));
  CHECK_NOTHROW(ubc::validate_interface_name("enp0s31f6.100"));
  for (const char* bad : {"", "a/b", "eth0:1", "has space", "..", "sixteen-chars-xx"})
    CHECK_THROWS_AS(ubc::validate_interface_name(bad), std::invalid_argument);
}

TEST_CASE("enter's login shell: root's home and shell from the CT's passwd, /bin/sh where it names none") {
  const auto bash =
      ubc::root_login_account("daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\nroot:x:0:0:root:/root:/bin/bash\n");
  CHECK(bash.home == "/root");
  CHECK(bash.shell == "/bin/bash");
  const auto relative = ubc::root_login_account("root:x:0:0:root:home:bash\n");
  CHECK(relative.home == "/root");
  CHECK(relative.shell == "/bin/sh");
  CHECK(ubc::root_login_account("").shell == "/bin/sh");
  CHECK(ubc::root_login_account("rooted:x:0:0::/x:/bin/zsh\n").shell == "/bin/sh");
}
