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
  explicit FuncCollector(Fn fn) : fn_(std::move(fn)) {}
  std::vector<MetricDesc> Describe() const override { return {}; }
  Status Collect(const CollectContext& ctx, MetricSink& sink) override { return fn_(ctx, sink); }

 private:
  Fn fn_;
};

}  // namespace mailstack::testing
