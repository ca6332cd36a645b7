#include "exporter/flags.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "collectors/core/config_node.h"
#include "collectors/registry.h"
#include "exporter/config.h"
#include "exporter/exporter.h"

namespace mailstack {
namespace {

enum class Kind { kString, kBool };
struct FlagSpec {
  const char* name;
  Kind kind;
  const char* help;
};

constexpr FlagSpec kFlags[] = {
    {"config.file", Kind::kString,
     "Path to the YAML config file. Default /etc/mailstack_exporter/config.yml; when that file does not "
     "exist, an embedded default config monitors the local machine."},
    {"config.check", Kind::kBool, "Validate the config file, print the enabled collectors and exit 0 (valid) or 1."},
    {"web.listen-address", Kind::kString, "Address to listen on (repeatable). Default :10587. IPv4 only."},
    {"web.telemetry-path", Kind::kString, "Path under which to expose metrics. Default /metrics."},
    {"web.config.file", Kind::kString, "Path to an exporter-toolkit web config file (TLS, basic auth)."},
    {"web.disable-exporter-metrics", Kind::kBool, "Do not expose the exporter's own process_* metrics."},
    {"web.max-requests", Kind::kString, "Maximum concurrent scrapes; more get 503. 0 means no limit. Default 40."},
    {"log.level", Kind::kString,
     "Only log messages with this severity or above: debug, info, warn, error. Default info."},
    {"log.format", Kind::kString, "Log format: logfmt or json. Default logfmt."},
    {"version", Kind::kBool, "Print the version and exit."},
    {"help", Kind::kBool, "Print this help and exit."},
};

Status Apply(Flags* f, const std::string& name, const std::string& value) {
  if (name == "config.file")
    f->config_file = value;
  else if (name == "web.listen-address")
    f->listen_addresses.push_back(value);
  else if (name == "web.telemetry-path")
    f->telemetry_path = value;
  else if (name == "web.config.file")
    f->web_config_file = value;
  else if (name == "web.max-requests") {
    if (value.empty() || value.size() > 6 || value.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("--web.max-requests: want a number >= 0 (got \"" + value + "\")");
    }
    f->max_requests = std::stoi(value);
  } else if (name == "log.level") {
    if (!ParseLogLevel(value, &f->log_level)) {
      return Status::InvalidArgument("--log.level: must be one of debug, info, warn, error (got \"" + value + "\")");
    }
  } else if (name == "log.format") {
    if (!ParseLogFormat(value, &f->log_format)) {
      return Status::InvalidArgument("--log.format: must be logfmt or json (got \"" + value + "\")");
    }
  }
  return Status::Ok();
}

Status ApplyBool(Flags* f, const std::string& name, bool v) {
  if (name == "config.check")
    f->config_check = v;
  else if (name == "web.disable-exporter-metrics")
    f->disable_exporter_metrics = v;
  else if (name == "version")
    f->version = v;
  else if (name == "help")
    f->help = v;
  return Status::Ok();
}

}  // namespace

Result<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags f;
  f.config_file = kDefaultConfigPath;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h") {
      f.help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      return Status::InvalidArgument("unexpected argument \"" + a + "\"");
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    bool negated = false;
    const FlagSpec* spec = nullptr;
    for (const auto& s : kFlags) {
      if (name == s.name)
        spec = &s;
      else if (s.kind == Kind::kBool && name == std::string("no-") + s.name) {
        spec = &s;
        negated = true;
      }
    }
    if (spec == nullptr) return Status::InvalidArgument("unknown flag --" + name);
    if (spec->kind == Kind::kBool) {
      bool v = !negated;
      if (has_value) {
        if (value == "true")
          v = !negated;
        else if (value == "false")
          v = negated;
        else
          return Status::InvalidArgument("--" + name + ": want true or false (got \"" + value + "\")");
      }
      if (auto s = ApplyBool(&f, spec->name, v); !s.ok()) return s;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return Status::InvalidArgument("--" + name + " needs a value");
      value = args[++i];
    }
    if (auto s = Apply(&f, name, value); !s.ok()) return s;
  }
  if (f.listen_addresses.empty()) f.listen_addresses.push_back(":10587");
  return f;
}

std::string HelpText() {
  std::ostringstream o;
  o << "usage: mailstack_exporter [<flags>]\n\n"
       "Prometheus exporter for self-hosted mail servers (Postfix, Dovecot, OpenDKIM).\n\nFlags:\n";
  for (const auto& s : kFlags) {
    std::string lhs = std::string("  --") + s.name + (s.kind == Kind::kString ? "=VALUE" : "");
    o << lhs;
    if (lhs.size() < 34)
      o << std::string(34 - lhs.size(), ' ');
    else
      o << "\n" << std::string(34, ' ');
    o << s.help << "\n";
  }
  o << "\nCollectors (enable or configure them under `collectors:` in the config file):\n";
  for (const auto& spec : CollectorRegistry()) {
    std::string lhs = "  " + std::string(spec.name);
    o << lhs << std::string(lhs.size() < 22 ? 22 - lhs.size() : 1, ' ')
      << (spec.default_enabled ? "[default on]  " : "[default off] ") << spec.description << "\n";
  }
  return o.str();
}

std::string VersionText() {
  const auto& b = GetBuildInfo();
  return "mailstack_exporter, version " + b.version + " (revision: " + b.revision + ")\n  compiler: " + b.compiler +
         "\n";
}

Status CheckWebConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("--web.config.file " + path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto root = ParseYaml(ss.str(), path);
  if (!root.ok()) return root.status();
  if (auto s = root->ExpectMap({"tls_server_config", "basic_auth_users", "http_server_config"}); !s.ok()) {
    return s;
  }
  // Known exporter-toolkit keys this build does not implement yet: refuse.
  if (auto n = (*root)["tls_server_config"]; n.defined() && !n.null()) {
    return n.Error("TLS is not supported yet (Debian's civetweb crashes on HTTPS); terminate TLS in a reverse proxy");
  }
  if (auto n = (*root)["basic_auth_users"]; n.defined() && !n.null()) {
    return n.Error("basic auth is not supported yet; put the exporter behind a reverse proxy or bind it to 127.0.0.1");
  }
  if (auto n = (*root)["http_server_config"]; n.defined() && !n.null()) {
    return n.Error("http_server_config is not supported yet");
  }
  return Status::Ok();
}

}  // namespace mailstack
