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

 private:
  Fn fn_;
  std::vector<MetricDesc> families_;
};

}  // namespace mailstack::testing
