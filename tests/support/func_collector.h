// A Collector whose run is a lambda, for runner and exporter tests.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "collectors/core/collector.h"

namespace mailstack::testing {

class FuncCollector final : public Collector {
 public:
  using Fn = std::function<Status(const CollectContext&, MetricSink&)>;
  // `families`: what the lambda may emit (the runner rejects anything else).
  explicit FuncCollector(Fn fn, std::vector<MetricDesc> families = {})
      : fn_(std::move(fn)), families_(std::move(families)) {}
  std::vector<MetricDesc> Describe() const override { return families_; }
  Status Collect(const CollectContext& ctx, MetricSink& sink) override { return fn_(ctx, sink); }
  // Called with the collector this one replaces on reload (if set).
  std::function<void(Collector& previous)> on_take_state;
  void TakeStateFrom(Collector& previous) override {
    if (on_take_state) on_take_state(previous);
  }

 private:
  Fn fn_;
  std::vector<MetricDesc> families_;
};

}  // namespace mailstack::testing
