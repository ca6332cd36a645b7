// DNS and deliverability checks of our own domains, over c-ares with every
// lookup of a run in flight at once: MX names the mail host; A/AAAA of the
// mail host equal our IPs; forward-confirmed reverse DNS; SPF (RFC 7208:
// evaluated for each of our IPs, DNS-querying terms and void lookups counted
// as the RFC does); DKIM key records (and the key against the local private
// key); DMARC, MTA-STS and TLS-RPT records; DNSBL listings of our IPs (RFC
// 5782, 127.255.255.x answers are errors, not listings).
#pragma once

#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"
#include "collectors/core/logging.h"

namespace mailstack {

// The public key (DER SubjectPublicKeyInfo) in a DKIM key_file: a PEM
// private key (opendkim's <selector>.private; encrypted keys are an error,
// never a passphrase prompt), a PEM public key, or opendkim-genkey's
// <selector>.txt record (world-readable, so the exporter needs no access to
// the private key).
Result<std::string> DkimPublicKeyFromFile(const std::string& path);

class DnsCollector final : public Collector {
 public:
  struct Dkim {
    std::string selector;
    std::string key_file;  // optional: private key whose public half DNS must publish
  };
  struct Domain {
    std::string domain;
    std::string mail_host;
    std::vector<std::string> ips;  // as written (labels); parsed below
    std::vector<std::vector<uint8_t>> ip_bytes;
    std::vector<Dkim> dkim;
  };
  struct Options {
    std::string resolver;  // IP:PORT or "" (system resolv.conf)
    std::vector<Domain> domains;
    std::vector<std::string> dnsbl_zones;
  };
  static Result<Options> ParseOptions(const ConfigNode& section);

  explicit DnsCollector(Options options) : options_(std::move(options)) {}

  // Every family the collector emits (the same for any options).
  static std::vector<MetricDesc> Families();
  std::vector<MetricDesc> Describe() const override { return Families(); }
  // Fails (success 0) only when no lookup got any answer (dead resolver);
  // a record whose lookup failed has its present/valid samples left out and
  // counts in mailstack_dns_lookup_failures.
  Status Collect(const CollectContext& ctx, MetricSink& sink) override;
  // Reload: takes over what the previous collector of this kind learnt (see Collector::TakeStateFrom).
  void TakeStateFrom(Collector& previous) override;

 private:
  void LogChange(const std::string& key, const std::string& message);

  Options options_;
  ProblemMemo problems_;  // per domain
};

}  // namespace mailstack
