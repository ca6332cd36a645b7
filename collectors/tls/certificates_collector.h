// TLS certificates in files (PEM, every certificate of a bundle): validity
// window, seconds left, whether the chain verifies, and identity (subject,
// issuer, serial, SHA-256). Emitted for expired and untrusted certificates
// too. Families mailstack_tls_certificate_* with source="file"; the probes
// collector adds source="probe" for certificates served on the wire.
#pragma once

#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"
#include "collectors/core/logging.h"
#include "collectors/tls/verify.h"

namespace mailstack {

class CertificatesCollector final : public Collector {
 public:
  struct Options {
    std::vector<std::string> files;  // glob patterns
    std::string ca_file;             // trust anchors; empty: the system store
  };
  static Result<Options> ParseOptions(const ConfigNode& section);

  explicit CertificatesCollector(Options options) : options_(std::move(options)) {}

  // Every family the collector emits (the same for any options).
  static std::vector<MetricDesc> Families();
  std::vector<MetricDesc> Describe() const override { return Families(); }
  // A file that cannot be read or holds no certificate is
  // mailstack_tls_certificate_file_error 1 (logged once per distinct error);
  // the run goes on.
  Status Collect(const CollectContext& ctx, MetricSink& sink) override;
  // Reload: takes over what the previous collector of this kind learnt (see Collector::TakeStateFrom).
  void TakeStateFrom(Collector& previous) override;

 private:
  Options options_;
  ProblemMemo problems_{{"cannot read certificate file", "certificate file readable again", "path"}};  // per path
  TrustStores trust_stores_;
};

}  // namespace mailstack
