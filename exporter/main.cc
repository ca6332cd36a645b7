// mailstack_exporter: flags, config, collectors in the background, HTTP.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "collectors/core/logging.h"
#include "exporter/config.h"
#include "exporter/exporter.h"
#include "exporter/flags.h"
#include "exporter/http_server.h"

using namespace mailstack;

namespace {

int CheckConfig(const Flags& flags) {
  auto config = LoadConfig(flags.config_file);
  if (!config.ok()) {
    std::fprintf(stderr, "config error: %s\n", config.status().message().c_str());
    return 1;
  }
  std::printf("config OK: %s\n", config->source.c_str());
  std::printf("defaults: interval %s, timeout %s\n", FormatDuration(config->default_interval).c_str(),
              FormatDuration(config->default_timeout).c_str());
  for (const auto& c : config->collectors) {
    std::printf("enabled:  %-16s interval %s, timeout %s\n", c.name.c_str(), FormatDuration(c.interval).c_str(),
                FormatDuration(c.timeout).c_str());
  }
  for (const auto& d : config->disabled) std::printf("disabled: %s\n", d.c_str());
  return 0;
}

// --help, --version, --config.check and a bad web config end the process
// before anything starts: their exit code, or -1 to go on.
int HandleOneShotFlags(const Flags& flags) {
  if (flags.help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  if (flags.version) {
    std::fputs(VersionText().c_str(), stdout);
    return 0;
  }
  if (flags.config_check) return CheckConfig(flags);
  if (!flags.web_config_file.empty()) {
    if (Status s = CheckWebConfigFile(flags.web_config_file); !s.ok()) {
      MS_LOG(kError, "invalid web config file", {{"err", s.message()}});
      return 1;
    }
  }
  return -1;
}

// Signals are taken synchronously by the main thread; every thread started
// after this inherits the blocked mask.
sigset_t BlockSignals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sigs;
}

HttpHandlers MakeHandlers(Exporter& exporter, const Flags& flags) {
  HttpHandlers handlers;
  handlers.metrics = [&exporter] { return exporter.RenderMetrics(); };
  handlers.landing = [&exporter, &flags] { return exporter.RenderLanding(flags.telemetry_path); };
  handlers.ready = [&exporter] { return exporter.ready(); };
  handlers.reload = [&exporter] {
    Status s = exporter.Reload();
    if (!s.ok()) MS_LOG(kError, "config reload failed; keeping the running config", {{"err", s.message()}});
    return s;
  };
  return handlers;
}

Result<std::unique_ptr<HttpServer>> StartHttp(const Flags& flags, const HttpHandlers& handlers) {
  HttpOptions hopts;
  hopts.listen_addresses = flags.listen_addresses;
  hopts.telemetry_path = flags.telemetry_path;
  hopts.max_requests = flags.max_requests;
  auto server = HttpServer::Start(hopts, handlers);
  if (!server.ok()) return server;
  auto ports = (*server)->ports();
  for (size_t i = 0; i < flags.listen_addresses.size(); ++i) {
    std::string port = i < ports.size() ? std::to_string(ports[i]) : "?";
    MS_LOG(kInfo, "Listening on", {{"address", flags.listen_addresses[i]}, {"port", port}});
  }
  return server;
}

// Until SIGTERM or SIGINT; SIGHUP reloads.
void ServeSignals(const sigset_t& sigs, const HttpHandlers& handlers) {
  while (true) {
    int sig = sigwaitinfo(&sigs, nullptr);
    if (sig == SIGHUP) {
      MS_LOG(kInfo, "SIGHUP: reloading config");
      (void)handlers.reload();  // logged by the handler
    } else if (sig == SIGTERM || sig == SIGINT) {
      MS_LOG(kInfo, "shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Few threads allocate; one arena per thread would only raise idle RSS.
  mallopt(M_ARENA_MAX, 2);

  auto parsed = ParseFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::fprintf(stderr, "mailstack_exporter: error: %s, try --help\n", parsed.status().message().c_str());
    return 1;
  }
  const Flags& flags = *parsed;
  SetLogLevel(flags.log_level);
  SetLogFormat(flags.log_format);
  if (int code = HandleOneShotFlags(flags); code >= 0) return code;

  const sigset_t sigs = BlockSignals();
  const auto& build = GetBuildInfo();
  MS_LOG(kInfo, "Starting mailstack_exporter", {{"version", build.version}, {"revision", build.revision}});
  if (geteuid() == 0) {
    MS_LOG(kWarn, "running as root; the exporter needs no root privileges (see README: permissions)");
  }

  Exporter::Options eopts;
  eopts.config_path = flags.config_file;
  eopts.exporter_metrics = !flags.disable_exporter_metrics;
  Exporter exporter(eopts);
  if (Status s = exporter.Reload(); !s.ok()) {
    MS_LOG(kError, "cannot load config", {{"err", s.message()}});
    return 1;
  }
  const HttpHandlers handlers = MakeHandlers(exporter, flags);
  auto server = StartHttp(flags, handlers);
  if (!server.ok()) {
    MS_LOG(kError, "cannot start HTTP server", {{"err", server.status().message()}});
    exporter.Shutdown();
    return 1;
  }
  ServeSignals(sigs, handlers);
  server = Status::Unavailable("stopped");  // destroys the HTTP server first
  exporter.Shutdown();
  // A collector stuck in a system call may still run detached; do not run
  // static destructors under it.
  std::fflush(nullptr);
  _exit(0);
}
