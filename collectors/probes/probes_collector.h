// Protocol probes of the mail ports: each target is one real client dialog
// (SMTP/submission/LMTP, IMAP, POP3, ManageSieve, milter, TCP) with optional
// STARTTLS or implicit TLS, all targets concurrently, each bounded by the
// run's deadline. Reports success, duration and one bounded failure reason
// per target; for TLS targets the served certificates (source="probe", even
// when invalid) and whether the served leaf equals the one in cert_file.
#pragma once

#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"
#include "collectors/core/logging.h"
#include "collectors/probes/probe_dialogs.h"
#include "collectors/tls/verify.h"

namespace mailstack {

class ProbesCollector final : public Collector {
 public:
  struct TargetOptions {
    probe::Target target;
    std::string ca_file;    // trust anchors; empty: the system store
    std::string cert_file;  // optional: the certificate the daemon should serve
  };
  struct Options {
    std::vector<TargetOptions> targets;
  };
  static Result<Options> ParseOptions(const ConfigNode& section);

  explicit ProbesCollector(Options options) : options_(std::move(options)) {}

  // Every family the collector emits (the same for any options).
  static std::vector<MetricDesc> Families();
  std::vector<MetricDesc> Describe() const override { return Families(); }
  Status Collect(const CollectContext& ctx, MetricSink& sink) override;
  // Reload: takes over what the previous collector of this kind learnt (see Collector::TakeStateFrom).
  void TakeStateFrom(Collector& previous) override;

 private:
  // Logs `message` when `key`'s problem kind changes (see ProblemMemo), and
  // the problem's end once.
  void LogChange(const std::string& key, const std::string& kind, const std::string& message);
  // The TLS version and the served chain of a target whose handshake
  // completed; returns the certificate problem to log ("" for none).
  std::string EmitServedChain(const TargetOptions& opt, const probe::Result& r, int64_t now, MetricSink& sink);
  // The cert_file comparison, if the target has one; returns its problem.
  static std::string EmitCertFile(const TargetOptions& opt, const probe::Result& r, MetricSink& sink);

  Options options_;
  TrustStores trust_stores_;
  // per target (and target/certificate, target/cert_file)
  ProblemMemo problems_{{"probe problem", "recovered", "probe"}};
};

}  // namespace mailstack
