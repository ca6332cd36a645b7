// Command-line flags (Prometheus conventions: double dashes, --flag=value or
// --flag value, repeatable --web.listen-address).
#pragma once

#include <string>
#include <vector>

#include "collectors/core/logging.h"
#include "collectors/core/status.h"

namespace mailstack {

struct Flags {
  std::string config_file;
  bool config_check = false;
  std::vector<std::string> listen_addresses;  // default {":10587"}
  std::string telemetry_path = "/metrics";
  std::string web_config_file;
  bool disable_exporter_metrics = false;
  int max_requests = 40;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;
  bool version = false;
  bool help = false;
};

Result<Flags> ParseFlags(const std::vector<std::string>& args);  // args without argv[0]
std::string HelpText();
std::string VersionText();

// Validates an exporter-toolkit web config file. Keys this build does not
// support yet are refused with a clear error rather than ignored.
Status CheckWebConfigFile(const std::string& path);

}  // namespace mailstack
