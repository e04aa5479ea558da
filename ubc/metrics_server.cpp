#include "ubc/metrics_server.h"

#include <CivetServer.h>

#include <stdexcept>

namespace ubc {

class MetricsServer::Handler : public CivetHandler {
 public:
  explicit Handler(const MetricsSnapshot& snapshot) : snapshot_(snapshot) {}

  bool handleGet(CivetServer*, mg_connection* connection) override {
    const auto text = snapshot_.latest();
    if (!text) {
      mg_send_http_error(connection, 503, "%s", "no figures collected yet\n");
      return true;
    }
    const std::string trailer = snapshot_trailer(*text, std::chrono::steady_clock::now());
    mg_send_http_ok(connection, "text/plain; version=0.0.4; charset=utf-8",
                    static_cast<long long>(text->body.size() + trailer.size()));
    // A client that hangs up mid-answer only ends its own request.
    if (mg_write(connection, text->body.data(), text->body.size()) > 0)
      mg_write(connection, trailer.data(), trailer.size());
    return true;
  }

 private:
  const MetricsSnapshot& snapshot_;
};

MetricsServer::MetricsServer(const Options& options, const MetricsSnapshot& snapshot)
    : handler_(std::make_unique<Handler>(snapshot)) {
  const std::vector<std::string> civetweb_options{"listening_ports",    options.listen,
                                                  "num_threads",        std::to_string(options.threads),
                                                  "request_timeout_ms", std::to_string(options.request_timeout_ms)};
  try {
    server_ = std::make_unique<CivetServer>(civetweb_options);
  } catch (const CivetException& error) {
    throw std::runtime_error(std::string("cannot serve on ") + options.listen + ": " + error.what());
  }
  server_->addHandler("/metrics", *handler_);
}

MetricsServer::~MetricsServer() {
  // Stop every request before the handler they run goes.
  if (server_) server_->close();
}

std::vector<int> MetricsServer::listening_ports() const {
  return server_->getListeningPorts();
}

}  // namespace ubc
