// The exporter's state: the loaded config, one runner per enabled collector,
// reloads, and rendering of /metrics and the landing page from snapshots.
// Thread-safety: all public methods are safe to call from any thread;
// Reload() calls are serialized.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collectors/core/status.h"
#include "exporter/config.h"
#include "exporter/runner.h"

namespace mailstack {

struct BuildInfo {
  std::string version;
  std::string revision;
  std::string compiler;
};
const BuildInfo& GetBuildInfo();

// The families the exporter writes itself on every scrape (build info,
// reload state, per-collector success, duration, last success, process_*).
std::vector<MetricDesc> SelfFamilies();

class Exporter {
 public:
  struct Options {
    std::string config_path = kDefaultConfigPath;
    bool exporter_metrics = true;  // process_* (off: --web.disable-exporter-metrics)
  };
  explicit Exporter(Options options);
  ~Exporter();  // Shutdown()

  // Loads the config file and swaps in new runners. On error the running
  // config stays, mailstack_exporter_config_last_reload_successful becomes 0
  // and the error (with file:line:column) is returned.
  Status Reload();
  // What a reload did with each collector, by name.
  struct ReloadSummary {
    std::vector<std::string> kept;      // section unchanged: still running, schedule and state untouched
    std::vector<std::string> replaced;  // section changed: new collector, state handed over, runs at once
    std::vector<std::string> added;
    std::vector<std::string> removed;  // disabled or gone: its metrics disappear
  };
  // Same with an already parsed config (tests). A collector whose
  // fingerprint (section, interval, timeout) did not change keeps running.
  Status Apply(Config config, ReloadSummary* summary = nullptr);
  bool ready() const { return ready_.load(); }

  std::string RenderMetrics();
  std::string RenderLanding(const std::string& telemetry_path) const;

  // Stops all runners (bounded wait); idempotent.
  void Shutdown();

 private:
  using RunnerList = std::vector<std::shared_ptr<CollectorRunner>>;
  std::shared_ptr<const RunnerList> Runners() const;
  void AppendSelfMetrics(const RunnerList& runners, const std::vector<CollectorRunner::View>& views,
                         std::string* out) const;

  const Options options_;
  std::atomic<bool> ready_{false};

  std::mutex reload_mu_;  // serializes Reload/Apply/Shutdown

  mutable std::mutex state_mu_;
  std::shared_ptr<const RunnerList> runners_;        // guarded by state_mu_
  std::map<std::string, std::string> fingerprints_;  // runner name -> CollectorConfig::fingerprint; reload_mu_
  std::string config_source_;                        // guarded by state_mu_
  bool last_reload_ok_ = true;                       // guarded by state_mu_
  double last_reload_success_unix_ = 0;              // guarded by state_mu_

  std::mutex cache_mu_;
  std::string cache_key_;                          // guarded by cache_mu_
  std::shared_ptr<const std::string> cache_text_;  // guarded by cache_mu_
};

}  // namespace mailstack
