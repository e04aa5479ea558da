// Fuzzes /metrics as ubcd serves it: ubc's MetricsServer (civetweb) and MetricsSnapshot,
// sent raw bytes as HTTP requests, and snapshots whose CT names are bytes ubc's own names
// never hold (quotes, backslashes, newlines, bytes that are not UTF-8), so that the text
// serializer's escaping is fuzzed too. After each raw request the server must still answer
// a plain scrape with 200 and text that parses as Prometheus' exposition format.
//
// Input: CT names separated by 0x1f (ASCII's unit separator), a NUL byte, then the raw
// request. Without a NUL the whole input is CT names and no raw request is sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "ubc/metrics_server.h"
#include "ubc/metrics_snapshot.h"

namespace {

constexpr std::size_t kMaxCtNames = 16;
constexpr char kCtNameSeparator = '\x1f';
// The most of an answer to a raw request worth reading: it is thrown away.
constexpr std::size_t kMaxRawAnswer = 1 << 20;
constexpr int kRawAnswerTimeoutMs = 1000;
// Far above request_timeout_ms: a scrape this late means the server is stuck.
constexpr int kScrapeTimeoutMs = 5000;

const char* const kHeldFamily = "ubc_resource_held_bytes";
const char* const kFailuresFamily = "ubc_resource_failures_total";

[[noreturn]] void fail(const std::string& what) {
  ubc::fuzz::fail("metrics_http", what);
}

// The figures a scrape may carry, the awkward ones included: the serializer writes
// "Nan", "+Inf", "-Inf", and fixed notation (1e308 is 309 digits).
constexpr std::array<double, 11> kValues = {0.0,
                                            1.0,
                                            4096.0,
                                            9223372036854775807.0,
                                            -1.5,
                                            -0.0,
                                            1e308,
                                            5e-324,
                                            std::numeric_limits<double>::infinity(),
                                            -std::numeric_limits<double>::infinity(),
                                            std::numeric_limits<double>::quiet_NaN()};

// Shaped like ubc::collect_metrics' families (ubc/metrics.cpp), with the fuzzer's CT names.
std::vector<prometheus::MetricFamily> fuzzed_families(const std::vector<std::string>& names) {
  prometheus::MetricFamily held{
      kHeldFamily, "What the CT holds now, in bytes (page rows converted)", prometheus::MetricType::Gauge, {}};
  prometheus::MetricFamily failures{
      kFailuresFamily, "Refused allocations (OpenVZ's failcnt)", prometheus::MetricType::Counter, {}};
  for (std::size_t index = 0; index < names.size(); ++index) {
    const double value = kValues[(index + names[index].size()) % kValues.size()];
    prometheus::ClientMetric metric;
    metric.label = {{"ct", names[index]}, {"resource", "numfile"}};
    metric.gauge.value = value;
    held.metric.push_back(metric);
    metric.gauge.value = 0;
    metric.counter.value = value;
    failures.metric.push_back(std::move(metric));
  }
  return {std::move(held), std::move(failures)};
}

struct FuzzedServer {
  ubc::MetricsSnapshot snapshot;
  std::unique_ptr<ubc::MetricsServer> server;
  int port = 0;
};

FuzzedServer& metrics_server() {
  // Started once for the whole run and never destroyed: civetweb's threads would otherwise
  // race the exit-time destructors.
  static FuzzedServer* const server = [] {
    std::signal(SIGPIPE, SIG_IGN);  // a side that hangs up mid-write is an error, not a death
    auto* started = new FuzzedServer;
    try {
      // ubcd's options but for a port of the kernel's choosing and a short request timeout,
      // so a request left unfinished holds one of the 8 workers for 200 ms instead of 5 s.
      started->server = std::make_unique<ubc::MetricsServer>(
          ubc::MetricsServer::Options{.listen = "127.0.0.1:0", .request_timeout_ms = 200}, started->snapshot);
    } catch (const std::exception& error) {
      fail(std::string("cannot start the server: ") + error.what());
    }
    const auto ports = started->server->listening_ports();
    if (ports.empty() || ports.front() <= 0) fail("the server reports no listening port");
    started->port = ports.front();
    return started;
  }();
  return *server;
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket& operator=(Socket&&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

Socket connect_to_server(int port, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  Socket socket(fd);
  const timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINTR) fail(std::string("the server refused a connection: ") + std::strerror(errno));
    // libFuzzer's timer signal interrupted it: the connection goes on being made.
    pollfd writable{fd, POLLOUT, 0};
    int ready = 0;
    while ((ready = ::poll(&writable, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    int error = 0;
    socklen_t size = sizeof error;
    if (ready <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) || error)
      fail(std::string("the server did not take a connection within ") + std::to_string(timeout_ms) +
           " ms: " + std::strerror(error ? error : ETIMEDOUT));
  }
  return socket;
}

// Sends what it can: the server may answer and hang up before a bad request is all sent.
void send_all(const Socket& socket, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(socket.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
}

// Reads until the server hangs up, the timeout passes or `complete` says the answer is whole.
template <typename Complete>
std::string read_answer(const Socket& socket, std::size_t max_bytes, Complete complete) {
  std::string answer;
  std::array<char, 16384> buffer;
  while (answer.size() < max_bytes && !complete(answer)) {
    const ssize_t got = ::recv(socket.fd(), buffer.data(), buffer.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    answer.append(buffer.data(), static_cast<std::size_t>(got));
  }
  return answer;
}

// The raw request, half-closed once sent: the server sees its end at once and answers or
// drops it, rather than waiting out request_timeout_ms for more. Whatever comes back is
// read and thrown away; the scrape after it is what is checked.
void send_raw_request(int port, std::string_view request) {
  const Socket socket = connect_to_server(port, kRawAnswerTimeoutMs);
  send_all(socket, request);
  ::shutdown(socket.fd(), SHUT_WR);
  read_answer(socket, kMaxRawAnswer, [](const std::string&) { return false; });
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

struct HttpAnswer {
  std::string status_line;
  std::optional<std::size_t> content_length;
  std::string body;
};

// Splits an answer once its headers are in; the body is whatever followed them.
std::optional<HttpAnswer> split_answer(const std::string& answer) {
  const auto headers_end = answer.find("\r\n\r\n");
  if (headers_end == std::string::npos) return std::nullopt;
  HttpAnswer split;
  split.body = answer.substr(headers_end + 4);
  std::size_t line_start = 0;
  while (line_start < headers_end) {
    const auto line_end = answer.find("\r\n", line_start);
    const std::string_view line(answer.data() + line_start, line_end - line_start);
    line_start = line_end + 2;
    if (split.status_line.empty()) {
      split.status_line = line;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !equal_ignoring_case(line.substr(0, colon), "Content-Length")) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    std::size_t length = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (error != std::errc() || end != value.data() + value.size())
      fail("bad Content-Length: '" + std::string(value) + "'");
    split.content_length = length;
  }
  return split;
}

std::string scrape(int port) {
  const Socket socket = connect_to_server(port, kScrapeTimeoutMs);
  send_all(socket, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  const std::string answer =
      read_answer(socket, std::numeric_limits<std::size_t>::max(), [](const std::string& so_far) {
        const auto split = split_answer(so_far);
        return split && split->content_length && split->body.size() >= *split->content_length;
      });
  const auto split = split_answer(answer);
  if (!split) fail("the scrape had no whole answer (" + std::to_string(answer.size()) + " bytes):\n" + answer);
  if (!split->status_line.starts_with("HTTP/1.1 200 ")) fail("the scrape was answered '" + split->status_line + "'");
  if (!split->content_length) fail("the scrape's answer has no Content-Length");
  if (split->body.size() != *split->content_length)
    fail("the scrape's body is " + std::to_string(split->body.size()) + " bytes, its Content-Length " +
         std::to_string(*split->content_length));
  return split->body;
}

// --- Prometheus text exposition format (version 0.0.4), as strictly as Prometheus reads it.

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
};

bool is_name_start(char c, bool colon_allowed) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon_allowed && c == ':');
}

bool is_name_char(char c, bool colon_allowed) {
  return is_name_start(c, colon_allowed) || std::isdigit(static_cast<unsigned char>(c));
}

// Takes a metric name (colons allowed) or a label name off the front of `text`.
std::optional<std::string> take_name(std::string_view& text, bool colon_allowed) {
  if (text.empty() || !is_name_start(text.front(), colon_allowed)) return std::nullopt;
  std::size_t length = 1;
  while (length < text.size() && is_name_char(text[length], colon_allowed)) ++length;
  std::string name(text.substr(0, length));
  text.remove_prefix(length);
  return name;
}

// Takes a quoted label value off the front of `text`, unescaping \\, \" and \n; nothing if
// it is not properly quoted and escaped.
std::optional<std::string> take_label_value(std::string_view& text) {
  if (text.empty() || text.front() != '"') return std::nullopt;
  std::string value;
  for (std::size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      text.remove_prefix(i + 1);
      return value;
    }
    if (c == '\n') return std::nullopt;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case '\\':
        value += '\\';
        break;
      case '"':
        value += '"';
        break;
      case 'n':
        value += '\n';
        break;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

bool is_float(std::string_view text) {
  if (text == "Nan" || text == "NaN" || text == "+Inf" || text == "-Inf") return true;
  if (text.starts_with('+')) text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

bool is_timestamp(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

// Parses `name{label="value",...} value [timestamp]`, or says what is wrong with it.
std::optional<std::string> parse_sample(std::string_view line, Sample& sample) {
  auto name = take_name(line, true);
  if (!name) return "no metric name";
  sample.name = std::move(*name);
  if (line.starts_with('{')) {
    line.remove_prefix(1);
    while (!line.starts_with('}')) {
      auto label_name = take_name(line, false);
      if (!label_name) return "bad label name";
      if (!line.starts_with('=')) return "no '=' after label " + *label_name;
      line.remove_prefix(1);
      auto label_value = take_label_value(line);
      if (!label_value) return "label " + *label_name + "'s value is not quoted and escaped";
      sample.labels.emplace_back(std::move(*label_name), std::move(*label_value));
      if (line.starts_with(','))
        line.remove_prefix(1);
      else if (!line.starts_with('}'))
        return "no ',' or '}' after label " + sample.labels.back().first;
    }
    line.remove_prefix(1);
  }
  if (!line.starts_with(' ')) return "no space before the value";
  line.remove_prefix(1);
  const auto space = line.find(' ');
  if (!is_float(line.substr(0, space))) return "bad value '" + std::string(line.substr(0, space)) + "'";
  if (space != std::string_view::npos && !is_timestamp(line.substr(space + 1))) return "bad timestamp";
  return std::nullopt;
}

// "# HELP name text", "# TYPE name type" or a free comment.
std::optional<std::string> check_comment(std::string_view line) {
  line.remove_prefix(1);
  if (!line.starts_with(" HELP ") && !line.starts_with(" TYPE ")) return std::nullopt;
  const bool is_type = line.starts_with(" TYPE ");
  line.remove_prefix(6);
  if (!take_name(line, true)) return "no metric name";
  if (!is_type) return line.empty() || line.starts_with(' ') ? std::nullopt : std::optional<std::string>("no space");
  for (const char* type : {" counter", " gauge", " histogram", " summary", " untyped"})
    if (line == type) return std::nullopt;
  return "unknown type '" + std::string(line) + "'";
}

// Checks every line of `body`; gives the CT names each family's samples carry, in order.
std::map<std::string, std::vector<std::string>> check_exposition(const std::string& body) {
  if (!body.empty() && body.back() != '\n') fail("the body does not end with a newline");
  std::map<std::string, std::vector<std::string>> ct_names;
  std::size_t start = 0;
  int number = 0;
  while (start < body.size()) {
    const auto end = body.find('\n', start);
    const std::string_view line(body.data() + start, end - start);
    start = end + 1;
    ++number;
    if (line.empty()) continue;
    Sample sample;
    const auto error = line.front() == '#' ? check_comment(line) : parse_sample(line, sample);
    if (error)
      fail("line " + std::to_string(number) + " of the scrape: " + *error + ":\n" + std::string(line) +
           "\n--- whole body:\n" + body);
    for (const auto& [name, value] : sample.labels)
      if (name == "ct") ct_names[sample.name].push_back(value);
  }
  return ct_names;
}

std::string printable(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) {
    text += '"';
    for (const unsigned char c : name) {
      if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
        text += static_cast<char>(c);
      } else {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
        text += escaped;
      }
    }
    text += "\" ";
  }
  return text;
}

std::vector<std::string> split_ct_names(std::string_view text) {
  std::vector<std::string> names;
  while (names.size() < kMaxCtNames) {
    const auto separator = text.find(kCtNameSeparator);
    names.emplace_back(text.substr(0, separator));
    if (separator == std::string_view::npos) break;
    text.remove_prefix(separator + 1);
  }
  return names;
}

void fuzz_one(std::string_view input) {
  FuzzedServer& server = metrics_server();
  const auto end_of_names = input.find('\0');
  const auto ct_names = split_ct_names(input.substr(0, end_of_names));
  server.snapshot.publish(fuzzed_families(ct_names), std::chrono::steady_clock::now());
  if (end_of_names != std::string_view::npos) send_raw_request(server.port, input.substr(end_of_names + 1));

  const std::string body = scrape(server.port);
  auto scraped = check_exposition(body);
  if (body.find("\nubc_snapshot_age_seconds ") == std::string::npos) fail("the scrape has no ubc_snapshot_age_seconds");
  for (const char* family : {kHeldFamily, kFailuresFamily})
    if (scraped[family] != ct_names)
      fail(std::string(family) + " has the CT names " + printable(scraped[family]) + "instead of " +
           printable(ct_names));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ubc::fuzz::run_one("metrics_http", data, size, fuzz_one);
}
