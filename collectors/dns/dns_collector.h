// DNS and deliverability checks of our own domains, over c-ares with every
// lookup of a run in flight at once: MX names the mail host; A/AAAA of the
// mail host equal our IPs; forward-confirmed reverse DNS; SPF (RFC 7208:
// evaluated for each of our IPs, DNS-querying terms and void lookups counted
// as the RFC does, see spf_evaluator.h); DKIM key records (and the key
// against the local key_file, dkim_keys.h); DMARC, MTA-STS and TLS-RPT
// records; DNSBL listings of our IPs (RFC 5782, dnsbl.h).
#pragma once

#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"
#include "collectors/core/logging.h"
#include "collectors/dns/dns_options.h"

namespace mailstack {

class DnsCollector final : public Collector {
 public:
  using Dkim = dns::DkimSelector;
  using Domain = dns::DomainOptions;
  using Options = dns::Options;
  static Result<Options> ParseOptions(const ConfigNode& section) { return dns::ParseOptions(section); }

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
  Options options_;
  ProblemMemo problems_{{"DNS check problem", "DNS checks recovered", "domain"}};  // per domain
};

}  // namespace mailstack
