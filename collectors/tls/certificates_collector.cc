#include "collectors/tls/certificates_collector.h"

#include <glob.h>

#include "collectors/core/logging.h"
#include "collectors/tls/certificate_metrics.h"
#include "collectors/tls/pem.h"

namespace mailstack {
namespace {

constexpr GaugeFamily<1> kFileError{"mailstack_tls_certificate_file_error",
                                    "1 if the certificate file could not be read or holds no PEM certificate.", "name"};

bool HasWildcard(const std::string& p) { return p.find_first_of("*?[") != std::string::npos; }

}  // namespace

namespace {

Status CheckPathOrGlob(const ConfigNode& item, const std::string& value) {
  if (value.empty() || value[0] != '/') return item.Error("must be an absolute path or glob (got \"" + value + "\")");
  return Status::Ok();
}

}  // namespace

// A file listed twice would give each of its series twice: refused.
Result<CertificatesCollector::Options> CertificatesCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  MS_RETURN_IF_ERROR(section.ExpectMap({"files", "ca_file"}));
  MS_ASSIGN_OR_RETURN(o.files, section["files"].AsUniqueStringList("file", CheckPathOrGlob));
  MS_ASSIGN_OR_RETURN(o.ca_file, section["ca_file"].AsAbsolutePath(""));
  return o;
}

std::vector<MetricDesc> CertificatesCollector::Families() {
  return {kTlsNotAfter, kTlsNotBefore, kTlsExpiry, kTlsValid, kTlsInfo, kFileError};
}

Status CertificatesCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  // Trust anchors, reloaded when the CA file changes.
  auto store = trust_stores_.Get(options_.ca_file);
  if (!store.ok()) return store.status();
  std::vector<std::string> paths;
  for (const auto& pattern : options_.files) {
    if (!HasWildcard(pattern)) {
      paths.push_back(pattern);
      continue;
    }
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
  }
  const auto now = static_cast<int64_t>(UnixTime());
  for (const auto& path : paths) {
    if (ctx.Done()) return Status::DeadlineExceeded("certificate files: deadline passed");
    const std::string_view name = path;
    auto certs = ReadPemCertificates(path);
    if (!certs.ok()) {
      sink.Gauge(kFileError, {name}, 1);
      problems_.Report(path, certs.status().message());
      continue;
    }
    problems_.Report(path, "");
    sink.Gauge(kFileError, {name}, 0);
    // The other certificates of the bundle are the untrusted intermediates.
    (void)JudgeAndEmitChain(sink, "file", name, *certs, store->get(), "", now);
  }
  return Status::Ok();
}

void CertificatesCollector::TakeStateFrom(Collector& previous) {
  auto* prev = dynamic_cast<CertificatesCollector*>(&previous);
  if (prev == nullptr || prev == this) return;
  trust_stores_.TakeFrom(prev->trust_stores_);
  problems_.TakeFrom(prev->problems_);
}

}  // namespace mailstack
