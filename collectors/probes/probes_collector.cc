#include "collectors/probes/probes_collector.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <system_error>

#include "collectors/core/logging.h"
#include "collectors/core/worker_pool.h"
#include "collectors/net/resolve.h"
#include "collectors/net/socket.h"
#include "collectors/tls/certificate_metrics.h"
#include "collectors/tls/pem.h"

namespace mailstack {
namespace {

using probe::Protocol;
using probe::Tls;

constexpr GaugeFamily<2> kSuccess{"mailstack_probe_success",
                                  "1 if the last probe of the target completed its protocol dialog.", "target",
                                  "protocol"};
constexpr GaugeFamily<2> kDuration{"mailstack_probe_duration_seconds",
                                   "How long the last probe of the target took, from connect to goodbye.", "target",
                                   "protocol"};
constexpr StateSetFamily<3> kFailure{"mailstack_probe_failure",
                                     "Why the last probe failed: 1 for the reason, 0 for the others; all 0 on success "
                                     "(resolve, connect, timeout, tls, protocol, rejected).",
                                     "target", "protocol", "reason"};
constexpr GaugeFamily<3> kTlsVersion{"mailstack_probe_tls_version_info",
                                     "TLS protocol version the target negotiated; always 1.", "target", "protocol",
                                     "version"};
constexpr GaugeFamily<1> kServedMatches{"mailstack_tls_served_matches_file",
                                        "1 if the certificate the target serves is the first one in its cert_file; 0 "
                                        "means renewed on disk but the daemon still serves the old one.",
                                        "target"};
constexpr GaugeFamily<1> kCertFileError{"mailstack_probe_cert_file_error",
                                        "1 if the target's cert_file could not be read or holds no PEM certificate.",
                                        "target"};

struct ProtocolEntry {
  std::string_view name;
  Protocol protocol;
};
constexpr ProtocolEntry kProtocols[] = {
    {"smtp", Protocol::kSmtp},     {"submission", Protocol::kSubmission},
    {"lmtp", Protocol::kLmtp},     {"imap", Protocol::kImap},
    {"pop3", Protocol::kPop3},     {"sieve", Protocol::kSieve},
    {"milter", Protocol::kMilter}, {"tcp", Protocol::kTcp},
};

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

namespace {

// An address is IP:PORT, [IPv6]:PORT, HOST:PORT (resolved at each probe,
// bounded by its deadline) or an absolute unix socket path.
Status CheckAddress(const ConfigNode& node, const std::string& address) {
  if (net::ValidateAddress(address).ok()) return Status::Ok();
  std::string host;
  uint16_t port = 0;
  if (Status split = net::SplitHostPort(address, &host, &port); !split.ok()) {
    return node.Error(split.message() + " (got \"" + address + "\")");
  }
  if (!net::IsHostName(host)) {
    return node.Error("host must be an IP address or a host name (got \"" + host + "\")");
  }
  return Status::Ok();
}

// The TLS mode, and whether the protocol has it.
Result<probe::Tls> ParseTls(const ConfigNode& node, probe::Protocol protocol) {
  MS_ASSIGN_OR_RETURN(std::string tls, node.AsOneOf({"none", "starttls", "implicit"}, "none"));
  if (tls == "none") return Tls::kNone;
  if (tls == "starttls") {
    if (protocol == Protocol::kTcp || protocol == Protocol::kMilter) {
      return node.Error("starttls needs a protocol that has it (smtp, submission, lmtp, imap, pop3, sieve)");
    }
    return Tls::kStartTls;
  }
  if (protocol == Protocol::kMilter) return node.Error("the milter protocol has no TLS");
  return Tls::kImplicit;
}

Result<probe::Protocol> ParseProtocol(const ConfigNode& node) {
  MS_ASSIGN_OR_RETURN(std::string name,
                      node.AsOneOf({"smtp", "submission", "lmtp", "imap", "pop3", "sieve", "milter", "tcp"}));
  for (const auto& p : kProtocols) {
    if (p.name == name) return p.protocol;
  }
  return node.Error("bug: protocol \"" + name + "\" has no entry");
}

Result<ProbesCollector::TargetOptions> ParseTarget(const ConfigNode& item, const std::string& helo,
                                                   const std::string& resolver, UniqueKeys& names) {
  MS_RETURN_IF_ERROR(item.ExpectMap({"name", "protocol", "address", "tls", "server_name", "ca_file", "cert_file"}));
  if (!item.is_map()) return item.Error("must be a map with name, protocol and address");
  ProbesCollector::TargetOptions t;
  t.target.helo_name = helo;
  t.target.resolver = resolver;
  MS_ASSIGN_OR_RETURN(t.target.name, item["name"].AsString());
  if (t.target.name.empty()) return item["name"].Error("must not be empty");
  MS_RETURN_IF_ERROR(names.Add(item["name"], t.target.name));
  MS_ASSIGN_OR_RETURN(t.target.protocol, ParseProtocol(item["protocol"]));
  MS_ASSIGN_OR_RETURN(t.target.address, item["address"].AsString());
  MS_RETURN_IF_ERROR(CheckAddress(item["address"], t.target.address));
  MS_ASSIGN_OR_RETURN(t.target.tls, ParseTls(item["tls"], t.target.protocol));
  MS_ASSIGN_OR_RETURN(t.target.server_name, item["server_name"].AsString(""));
  MS_ASSIGN_OR_RETURN(t.ca_file, item["ca_file"].AsAbsolutePath(""));
  MS_ASSIGN_OR_RETURN(t.cert_file, item["cert_file"].AsAbsolutePath(""));
  if (t.target.tls == Tls::kNone) {
    for (const char* key : {"server_name", "ca_file", "cert_file"}) {
      if (item[key].defined() && !item[key].null())
        return item[key].Error("only applies with tls: starttls or implicit");
    }
  }
  return t;
}

}  // namespace

Result<ProbesCollector::Options> ProbesCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  MS_RETURN_IF_ERROR(section.ExpectMap({"targets", "helo_name", "resolver"}));
  MS_ASSIGN_OR_RETURN(const std::string resolver, section["resolver"].AsString(""));
  if (!resolver.empty() && !net::IsDnsServerAddress(resolver)) {
    return section["resolver"].Error("must be IP:PORT of a DNS server (got \"" + resolver + "\")");
  }
  MS_ASSIGN_OR_RETURN(const std::string helo, section["helo_name"].AsString(HostName()));
  if (helo.empty() || helo.find_first_of(" \t\r\n") != std::string::npos) {
    return section["helo_name"].Error("must be a host name (got \"" + helo + "\")");
  }
  auto list = section["targets"];
  MS_RETURN_IF_ERROR(list.ExpectList());
  UniqueKeys names("target name");
  for (const auto& item : list.Items()) {
    MS_ASSIGN_OR_RETURN(auto target, ParseTarget(item, helo, resolver, names));
    o.targets.push_back(std::move(target));
  }
  if (o.targets.empty()) return list.Error("must list at least one target");
  return o;
}

std::vector<MetricDesc> ProbesCollector::Families() {
  return {kSuccess,   kDuration, kFailure, kTlsVersion,    kTlsNotAfter,  kTlsNotBefore,
          kTlsExpiry, kTlsValid, kTlsInfo, kServedMatches, kCertFileError};
}

void ProbesCollector::LogChange(const std::string& key, const std::string& kind, const std::string& message) {
  problems_.Report(key, kind, message);
}

std::string ProbesCollector::EmitServedChain(const TargetOptions& opt, const probe::Result& r, int64_t now,
                                             MetricSink& sink) {
  if (!r.tls_done || r.chain.empty()) return "";
  const auto& t = opt.target;
  sink.Gauge(kTlsVersion, {t.name, probe::ProtocolName(t.protocol), r.tls_version}, 1);
  std::string problem;
  auto store = trust_stores_.Get(opt.ca_file);
  if (!store.ok()) problem = "cannot verify: " + store.status().message();
  const std::string name = t.server_name.empty() ? probe::HostOf(t.address) : t.server_name;
  const LeafVerdict leaf =
      JudgeAndEmitChain(sink, "probe", t.name, r.chain, store.ok() ? store->get() : nullptr, name, now);
  if (store.ok() && !leaf.verifies) {
    problem = "served certificate does not verify: " + leaf.verify_error;
  } else if (leaf.name_mismatch) {
    problem = "served certificate is not for \"" + name + "\"";
  }
  return problem;
}

std::string ProbesCollector::EmitCertFile(const TargetOptions& opt, const probe::Result& r, MetricSink& sink) {
  if (opt.cert_file.empty()) return "";
  const std::string& target = opt.target.name;
  auto file_certs = ReadPemCertificates(opt.cert_file);
  sink.Gauge(kCertFileError, {target}, file_certs.ok() ? 0 : 1);
  if (!file_certs.ok()) return file_certs.status().message();
  if (!r.tls_done || r.chain.empty()) return "";
  const bool same = CertificateSha256(r.chain[0].get()) == CertificateSha256(file_certs->front().get());
  sink.Gauge(kServedMatches, {target}, same ? 1 : 0);
  if (same) return "";
  return "the served certificate is not the one in " + opt.cert_file + " (daemon not reloaded?)";
}

Status ProbesCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  // Every target at once: the run takes as long as the slowest target. The
  // probes end a little before the run's deadline, so that a target that
  // never answers is reported (timeout) instead of failing the whole run.
  const Deadline probe_deadline = ctx.WorkDeadline();
  std::vector<probe::Result> results(options_.targets.size());
  // Without a worker to be had (the pool's cap, RLIMIT_NPROC) the rest run
  // one after the other on this thread.
  WorkerPool::Shared().ForEach(results.size(), results.size(), [&](size_t i) {
    results[i] = probe::Run(options_.targets[i].target, probe_deadline, ctx.stop);
  });

  const auto now = static_cast<int64_t>(UnixTime());
  for (size_t i = 0; i < options_.targets.size(); ++i) {
    const auto& opt = options_.targets[i];
    const auto& t = opt.target;
    auto& r = results[i];
    const std::string_view protocol = probe::ProtocolName(t.protocol);
    const LabelValues<2> labels{t.name, protocol};
    sink.Gauge(kSuccess, labels, r.success() ? 1 : 0);
    sink.Gauge(kDuration, labels, r.duration_seconds);
    sink.StateSet(kFailure, labels, probe::ReasonNames(), probe::ReasonName(r.reason));
    // Compared by reason: the detail may carry the peer's text (a greeting
    // with a date, a connection count) that changes while the fault does not.
    const std::string reason = r.success() ? "" : std::string(probe::ReasonName(r.reason));
    LogChange(t.name, reason, "reason " + reason + ": " + r.detail);

    const std::string cert_problem = EmitServedChain(opt, r, now, sink);
    LogChange(t.name + "/certificate", cert_problem, cert_problem);
    const std::string file_problem = EmitCertFile(opt, r, sink);
    LogChange(t.name + "/cert_file", file_problem, file_problem);
  }
  return Status::Ok();
}

void ProbesCollector::TakeStateFrom(Collector& previous) {
  auto* prev = dynamic_cast<ProbesCollector*>(&previous);
  if (prev == nullptr || prev == this) return;
  trust_stores_.TakeFrom(prev->trust_stores_);
  problems_.TakeFrom(prev->problems_);
}

}  // namespace mailstack
