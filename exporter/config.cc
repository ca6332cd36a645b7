#include "exporter/config.h"

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>

#include "collectors/core/config_node.h"
#include "collectors/registry.h"

namespace mailstack {

using namespace std::chrono_literals;

const char kEmbeddedDefaultConfig[] = R"(# mailstack_exporter embedded default config: the local machine, Debian paths.
defaults:
  interval: 30s
  timeout: 10s
collectors:
  filesystem:
    paths: [/, /var/spool/postfix, /var/mail]
  postfix_queue:
    instances:
      - name: postfix
        showq: /var/spool/postfix/public/showq
  services:
    # Process checks work with or without systemd; with systemd, prefer
    # units: [postfix@-.service, dovecot.service, opendkim.service]
    processes: {postfix: master, dovecot: dovecot, opendkim: opendkim}
  probes:
    # Postfix running is not Postfix accepting mail: speak SMTP to it.
    targets:
      - {name: smtp, protocol: smtp, address: "127.0.0.1:25"}
  logs:
    # Debian's rsyslog file (root:adm 0640: the unit runs with SupplementaryGroups=adm).
    # Without rsyslog: sources: [{journal: {}}]
    sources:
      - file: /var/log/mail.log
)";

namespace {

constexpr Duration kMinInterval = 1s;

// Checks 1s <= interval and 0 < timeout < interval. Errors point at the key
// that is set in this section (`interval_at`/`timeout_at` may be undefined,
// then `section_at` is blamed).
Status CheckTiming(Duration interval, Duration timeout, const ConfigNode& interval_at, const ConfigNode& timeout_at,
                   const ConfigNode& section_at) {
  const ConfigNode& i_at = interval_at.defined() ? interval_at : section_at;
  const ConfigNode& t_at = timeout_at.defined() ? timeout_at : i_at;
  if (interval < kMinInterval) {
    return i_at.Error("interval must be at least 1s (got " + FormatDuration(interval) + ")");
  }
  if (timeout <= Duration(0)) return t_at.Error("timeout must be greater than 0s");
  if (timeout >= interval) {
    return t_at.Error("timeout (" + FormatDuration(timeout) + ") must be less than interval (" +
                      FormatDuration(interval) + ")");
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfig(const std::string& text, const std::string& file_name) {
  auto parsed = ParseYaml(text, file_name);
  if (!parsed.ok()) return parsed.status();
  const ConfigNode& root = *parsed;
  if (auto s = root.ExpectMap({"defaults", "collectors"}); !s.ok()) return s;

  Config cfg;
  cfg.source = file_name;
  auto defaults = root["defaults"];
  if (auto s = defaults.ExpectMap({"interval", "timeout"}); !s.ok()) return s;
  auto interval = defaults["interval"].AsDuration(30s);
  if (!interval.ok()) return interval.status();
  auto timeout = defaults["timeout"].AsDuration(10s);
  if (!timeout.ok()) return timeout.status();
  cfg.default_interval = *interval;
  cfg.default_timeout = *timeout;
  if (auto s = CheckTiming(*interval, *timeout, defaults["interval"], defaults["timeout"], defaults); !s.ok()) {
    return s;
  }

  auto collectors = root["collectors"];
  if (auto s = collectors.ExpectMapAnyKeys(); !s.ok()) return s;
  for (const auto& entry : collectors.Entries()) {
    const std::string& name = entry.key;
    if (FindCollector(name) == nullptr) {
      std::string known;
      for (const auto& spec : CollectorRegistry()) {
        if (!known.empty()) known += ", ";
        known += spec.name;
      }
      return entry.key_node.Error("unknown collector (known: " + known + ")");
    }
  }

  for (const auto& spec : CollectorRegistry()) {
    ConfigNode section = collectors[spec.name].WithImplicitKeys({"enabled", "interval", "timeout"});
    bool present = section.defined();
    if (auto s = section.ExpectMapAnyKeys(); !s.ok()) return s;
    auto enabled = section["enabled"].AsBool(present || spec.default_enabled);
    if (!enabled.ok()) return enabled.status();
    if (!*enabled) {
      cfg.disabled.emplace_back(spec.name);
      continue;
    }
    // A collector with its own cadence (logs: every 5s) ignores `defaults`.
    const bool own = spec.default_interval.count() > 0;
    auto c_interval = section["interval"].AsDuration(own ? spec.default_interval : cfg.default_interval);
    if (!c_interval.ok()) return c_interval.status();
    auto c_timeout = section["timeout"].AsDuration(own ? spec.default_timeout : cfg.default_timeout);
    if (!c_timeout.ok()) return c_timeout.status();
    if (auto s = CheckTiming(*c_interval, *c_timeout, section["interval"], section["timeout"], section); !s.ok()) {
      return s;
    }
    Result<std::unique_ptr<Collector>> created = Status::Internal("unreachable");
    try {
      created = spec.create(section);
    } catch (const std::exception& e) {
      return section.Error(std::string("invalid section: ") + e.what());
    }
    if (!created.ok()) return created.status();
    // The effective interval and timeout count, so a changed default changes
    // the collectors that use it.
    std::string fingerprint = FormatDuration(*c_interval) + " " + FormatDuration(*c_timeout) + " " +
                              (present ? section.Canonical() : std::string("~absent"));
    cfg.collectors.push_back(CollectorConfig{std::string(spec.name), *c_interval, *c_timeout,
                                             std::shared_ptr<Collector>(std::move(created).value()),
                                             std::move(fingerprint)});
  }
  return cfg;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (path == kDefaultConfigPath && err == ENOENT) {
      return ParseConfig(kEmbeddedDefaultConfig, kEmbeddedConfigName);
    }
    return Status::FromErrno(path, err);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError(path + ": read error");
  return ParseConfig(ss.str(), path);
}

}  // namespace mailstack
