// The exporter's configuration: defaults plus one entry per enabled collector,
// each with its interval, timeout and a ready-built Collector.
// Loading is strict: unknown or duplicate keys, wrong types, bad durations,
// timeout >= interval and unknown collectors are errors naming
// file:line:column and the key path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/duration.h"
#include "collectors/core/status.h"

namespace mailstack {

inline constexpr char kDefaultConfigPath[] = "/etc/mailstack_exporter/config.yml";
inline constexpr char kEmbeddedConfigName[] = "<embedded default config>";
// The config used when the default path does not exist: the local machine
// with Debian's paths.
extern const char kEmbeddedDefaultConfig[];

struct CollectorConfig {
  std::string name;
  Duration interval;
  Duration timeout;
  std::shared_ptr<Collector> collector;
  // Interval, timeout and the canonical section (ConfigNode::Canonical): a
  // reload keeps a running collector whose fingerprint did not change. Empty
  // (a config built by hand): never equal, the collector is replaced.
  std::string fingerprint;
};

struct Config {
  std::string source;  // file path, or kEmbeddedConfigName
  Duration default_interval;
  Duration default_timeout;
  std::vector<CollectorConfig> collectors;  // enabled ones, in registry order
  std::vector<std::string> disabled;        // known collectors that are off
};

// Parses config text; `file_name` is used in error messages.
Result<Config> ParseConfig(const std::string& text, const std::string& file_name);

// Reads and parses `path`. When `path` is the default path and does not
// exist, parses the embedded default config instead.
Result<Config> LoadConfig(const std::string& path);

}  // namespace mailstack
