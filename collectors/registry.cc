#include "collectors/registry.h"

#include "collectors/dns/dns_collector.h"
#include "collectors/filesystem_collector.h"
#include "collectors/logs/logs_collector.h"
#include "collectors/postfix_queue_collector.h"
#include "collectors/probes/probes_collector.h"
#include "collectors/services_collector.h"
#include "collectors/tls/certificates_collector.h"

namespace mailstack {
namespace {

// Parses C's options, then builds a C from them.
template <typename C>
Result<std::unique_ptr<Collector>> Create(const ConfigNode& section) {
  auto options = C::ParseOptions(section);
  if (!options.ok()) return options.status();
  return std::unique_ptr<Collector>(std::make_unique<C>(std::move(options).value()));
}

}  // namespace

const std::vector<CollectorSpec>& CollectorRegistry() {
  static const std::vector<CollectorSpec> kRegistry = {
      {"filesystem", true, "space and inodes of the filesystems holding mail (statvfs)", &Create<FilesystemCollector>,
       &FilesystemCollector::Families},
      {"postfix_queue", true, "Postfix queue depth, bytes and message ages per queue, read from showq",
       &Create<PostfixQueueCollector>, &PostfixQueueCollector::Families},
      {"certificates", false, "TLS certificate files: expiry, validity and identity of every certificate",
       &Create<CertificatesCollector>, &CertificatesCollector::Families},
      {"probes", false,
       "mail ports by their real protocol dialog (SMTP, IMAP, POP3, ManageSieve, milter) "
       "with STARTTLS or implicit TLS, and the certificates they serve",
       &Create<ProbesCollector>, &ProbesCollector::Families},
      {"dns", false,
       "DNS and deliverability of our domains: MX, A/AAAA, reverse DNS, SPF (evaluated, lookups "
       "counted), DKIM keys, DMARC, MTA-STS, TLS-RPT, DNSBL listings (c-ares)",
       &Create<DnsCollector>, &DnsCollector::Families},
      {"logs", true,
       "what flowed through the stack, from mail.log or the journal: Postfix deliveries, delays, rejects, SASL, "
       "TLS; Dovecot logins and LMTP; OpenDKIM; fail2ban bans; named error patterns",
       &Create<LogsCollector>, &LogsCollector::Families, std::chrono::seconds(5), std::chrono::seconds(4)},
      {"services", false, "systemd unit state and restarts over D-Bus, or process checks from /proc",
       &Create<ServicesCollector>, &ServicesCollector::Families},
  };
  return kRegistry;
}

const CollectorSpec* FindCollector(std::string_view name) {
  for (const auto& spec : CollectorRegistry()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace mailstack
