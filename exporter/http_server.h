// The HTTP endpoints on our own civetweb server: /, the telemetry path,
// /-/healthy, /-/ready, POST /-/reload. Paths match exactly; anything else is
// 404. A handler that throws answers 500 and the server keeps running.
// Concurrent scrapes above max_requests get 503.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "collectors/core/status.h"

class CivetServer;

namespace mailstack {

struct HttpOptions {
  std::vector<std::string> listen_addresses{":10587"};
  std::string telemetry_path = "/metrics";
  int max_requests = 40;  // concurrent telemetry requests; 0 = no limit
};

struct HttpHandlers {
  std::function<std::string()> metrics;  // the exposition text
  std::function<std::string()> landing;  // HTML
  std::function<bool()> ready;
  std::function<Status()> reload;
};

// Converts a Prometheus-style listen address (":10587", "127.0.0.1:10587",
// "0.0.0.0:0") into civetweb's listening_ports syntax. IPv6 is rejected:
// Debian's civetweb is built without it.
Result<std::string> CivetListenSpec(const std::string& address);

class HttpServer {
 public:
  // Binds all addresses or fails with the reason.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpOptions& options, HttpHandlers handlers);
  ~HttpServer();

  // Bound ports, in the order of the listen addresses (useful with port 0).
  std::vector<int> ports() const;

  struct Handler;  // civetweb handler adaptor (public for the .cc)

 private:
  HttpServer() = default;
  // Declared in dependency order: destroyed server first, then what it calls.
  std::unique_ptr<HttpHandlers> callbacks_;
  std::vector<std::unique_ptr<Handler>> handlers_;
  std::unique_ptr<CivetServer> server_;
};

}  // namespace mailstack
