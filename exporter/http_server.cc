#include "exporter/http_server.h"

#include <CivetServer.h>

#include <atomic>
#include <cstring>
#include <exception>

#include "collectors/core/logging.h"

namespace mailstack {
namespace {

constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

void Respond(mg_connection* conn, int code, const char* reason, const char* content_type, const std::string& body,
             const char* extra_headers = "") {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-cache\r\n%sConnection: close\r\n\r\n",
            code, reason, content_type, body.size(), extra_headers);
  const auto* info = mg_get_request_info(conn);
  if (info == nullptr || std::strcmp(info->request_method, "HEAD") != 0) {
    mg_write(conn, body.data(), body.size());
  }
}

void RespondText(mg_connection* conn, int code, const char* reason, const std::string& body) {
  Respond(conn, code, reason, "text/plain; charset=utf-8", body);
}

int CivetLog(const mg_connection*, const char* message) {
  MS_LOG(kDebug, "http server", {{"detail", message}});
  return 1;  // handled: civetweb must not print to stderr itself
}

}  // namespace

// One adaptor per endpoint: method check, the 500 edge, the 503 limit.
struct HttpServer::Handler : public CivetHandler {
  enum class Kind { kLanding, kMetrics, kHealthy, kReady, kReload };
  Handler(Kind k, HttpHandlers* h, int max) : kind(k), handlers(h), max_requests(max) {}

  bool handleGet(CivetServer*, mg_connection* conn) override { return Handle(conn, false); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return Handle(conn, false); }
  bool handlePost(CivetServer*, mg_connection* conn) override { return Handle(conn, true); }
  bool handlePut(CivetServer*, mg_connection* conn) override { return Handle(conn, true); }

  bool Handle(mg_connection* conn, bool is_write) {
    try {
      Dispatch(conn, is_write);
    } catch (const std::exception& e) {
      MS_LOG(kError, "HTTP handler failed", {{"err", e.what()}});
      RespondText(conn, 500, "Internal Server Error", std::string("internal error: ") + e.what() + "\n");
    } catch (...) {
      MS_LOG(kError, "HTTP handler failed", {{"err", "unknown exception"}});
      RespondText(conn, 500, "Internal Server Error", "internal error\n");
    }
    return true;
  }

  void Dispatch(mg_connection* conn, bool is_write) {
    if (kind == Kind::kReload) {
      if (!is_write) {
        Respond(conn, 405, "Method Not Allowed", "text/plain; charset=utf-8", "Only POST or PUT requests allowed\n",
                "Allow: POST, PUT\r\n");
        return;
      }
      Status s = handlers->reload();
      if (s.ok())
        RespondText(conn, 200, "OK", "config reloaded\n");
      else
        RespondText(conn, 500, "Internal Server Error", "failed to reload config: " + s.message() + "\n");
      return;
    }
    if (is_write) {
      Respond(conn, 405, "Method Not Allowed", "text/plain; charset=utf-8", "Method Not Allowed\n",
              "Allow: GET, HEAD\r\n");
      return;
    }
    switch (kind) {
      case Kind::kLanding: Respond(conn, 200, "OK", "text/html; charset=utf-8", handlers->landing()); return;
      case Kind::kHealthy: RespondText(conn, 200, "OK", "Healthy\n"); return;
      case Kind::kReady:
        if (handlers->ready())
          RespondText(conn, 200, "OK", "Ready\n");
        else
          RespondText(conn, 503, "Service Unavailable", "Not ready\n");
        return;
      case Kind::kMetrics: {
        // Bound concurrent scrapes; the slot is released however we leave.
        struct Slot {
          std::atomic<int>& n;
          ~Slot() { n.fetch_sub(1); }
        } slot{in_flight};
        int now = in_flight.fetch_add(1) + 1;
        if (max_requests > 0 && now > max_requests) {
          RespondText(conn, 503, "Service Unavailable",
                      "too many concurrent scrapes (--web.max-requests=" + std::to_string(max_requests) + ")\n");
          return;
        }
        std::string body = handlers->metrics();
        Respond(conn, 200, "OK", kMetricsContentType, body);
        return;
      }
      case Kind::kReload: return;
    }
  }

  Kind kind;
  HttpHandlers* handlers;
  int max_requests;
  std::atomic<int> in_flight{0};
};

Result<std::string> CivetListenSpec(const std::string& address) {
  auto colon = address.rfind(':');
  if (address.empty() || address[0] == '[' || (colon != std::string::npos && address.find(':') != colon)) {
    return Status::InvalidArgument("listen address \"" + address +
                                   "\": IPv6 is not supported (Debian's civetweb is built without it); "
                                   "use 0.0.0.0:PORT or :PORT");
  }
  if (colon == std::string::npos) {
    return Status::InvalidArgument("listen address \"" + address + "\": want HOST:PORT or :PORT");
  }
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return Status::InvalidArgument("listen address \"" + address + "\": bad port");
  }
  if (host.empty() || host == "0.0.0.0") return host.empty() ? port : "0.0.0.0:" + port;
  if (host == "localhost") host = "127.0.0.1";
  unsigned a, b, c, d;
  char tail;
  if (std::sscanf(host.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 ||
      d > 255) {
    return Status::InvalidArgument("listen address \"" + address +
                                   "\": host must be an IPv4 address, localhost or empty");
  }
  return host + ":" + port;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpOptions& options, HttpHandlers handlers) {
  std::string ports;
  for (const auto& a : options.listen_addresses) {
    auto spec = CivetListenSpec(a);
    if (!spec.ok()) return spec.status();
    if (!ports.empty()) ports += ",";
    ports += *spec;
  }
  if (options.telemetry_path.empty() || options.telemetry_path[0] != '/' || options.telemetry_path == "/" ||
      options.telemetry_path.rfind("/-/", 0) == 0 ||
      options.telemetry_path.find_first_of("*?|$ ") != std::string::npos) {
    return Status::InvalidArgument(
        "--web.telemetry-path must start with /, must not be / or under /-/, and must not contain * ? | $ or spaces");
  }
  // Enough workers that a refused scrape can still be answered with 503 and
  // health checks get through while max_requests scrapes run.
  int threads = (options.max_requests > 0 ? options.max_requests : 40) + 4;
  std::vector<std::string> civet_opts = {
      "listening_ports",    ports,   "num_threads",       std::to_string(threads),
      "request_timeout_ms", "10000", "enable_keep_alive", "no",
  };
  CivetCallbacks callbacks;
  callbacks.log_message = &CivetLog;
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->callbacks_ = std::make_unique<HttpHandlers>(std::move(handlers));
  HttpHandlers* hp = server->callbacks_.get();
  server->handlers_.push_back(std::make_unique<Handler>(Handler::Kind::kLanding, hp, 0));
  server->handlers_.push_back(std::make_unique<Handler>(Handler::Kind::kMetrics, hp, options.max_requests));
  server->handlers_.push_back(std::make_unique<Handler>(Handler::Kind::kHealthy, hp, 0));
  server->handlers_.push_back(std::make_unique<Handler>(Handler::Kind::kReady, hp, 0));
  server->handlers_.push_back(std::make_unique<Handler>(Handler::Kind::kReload, hp, 0));
  try {
    server->server_ = std::make_unique<CivetServer>(civet_opts, &callbacks);
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot listen on " + ports + ": " + e.what() +
                               " (address in use, or permission denied)");
  }
  server->server_->addHandler("/$", server->handlers_[0].get());
  server->server_->addHandler(options.telemetry_path + "$", server->handlers_[1].get());
  server->server_->addHandler("/-/healthy$", server->handlers_[2].get());
  server->server_->addHandler("/-/ready$", server->handlers_[3].get());
  server->server_->addHandler("/-/reload$", server->handlers_[4].get());
  return server;
}

HttpServer::~HttpServer() = default;

std::vector<int> HttpServer::ports() const { return server_->getListeningPorts(); }

}  // namespace mailstack
