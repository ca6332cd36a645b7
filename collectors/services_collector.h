// Whether the mail services run: systemd units read over D-Bus with sd-bus
// (ActiveState, LoadState, NRestarts), and, where there is no systemd,
// process checks that read /proc. Emits mailstack_service_up{unit},
// mailstack_service_state{unit,state}, mailstack_service_load_state{unit,state},
// mailstack_service_restarts_total{unit} and mailstack_service_processes{unit}.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"

typedef struct sd_bus sd_bus;

namespace mailstack {

class ServicesCollector final : public Collector {
 public:
  struct Options {
    std::vector<std::string> units;                // systemd unit names
    std::map<std::string, std::string> processes;  // check name -> process name (comm)
    std::string proc_root = "/proc";               // tests only; not a config key
  };
  // Parses `collectors.services`. An absent section gives no checks.
  static Result<Options> ParseOptions(const ConfigNode& section);

  explicit ServicesCollector(Options options) : options_(std::move(options)) {}
  ~ServicesCollector() override;

  // Every family the collector emits (the same for any options).
  static std::vector<MetricDesc> Families();
  std::vector<MetricDesc> Describe() const override { return Families(); }
  // Process checks never fail the run. Units: a bus that cannot be reached,
  // goes away or does not answer by the deadline fails the run (success 0,
  // the reason logged by the runner); the connection is reopened next run.
  Status Collect(const CollectContext& ctx, MetricSink& sink) override;
  // Reload: takes over what the previous collector of this kind learnt (see Collector::TakeStateFrom).
  void TakeStateFrom(Collector& previous) override;

 private:
  Status CollectUnits(const CollectContext& ctx, MetricSink& sink);
  void CollectProcesses(MetricSink& sink);

  Options options_;
  sd_bus* bus_ = nullptr;  // reused across runs; only touched by Collect (one thread at a time)
};

}  // namespace mailstack
