// CPU cost of one /metrics request inside the exporter: rendering snapshots
// of collectors plus self-metrics (the HTTP layer is measured end to end by
// scrape_bench.py). Run: build/tests/bench/exposition_bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "exporter/exporter.h"
#include "tests/support/func_collector.h"

namespace mailstack {
namespace {

using namespace std::chrono_literals;

constexpr GaugeFamily<1> kDesc{"bench_value_bytes", "A benchmark value.", "path"};

// An exporter with `collectors` collectors of `series` series each, all run once.
std::unique_ptr<Exporter> MakeExporter(int collectors, int series, bool exporter_metrics) {
  Exporter::Options o;
  o.exporter_metrics = exporter_metrics;
  auto e = std::make_unique<Exporter>(o);
  Config cfg;
  cfg.source = "bench";
  for (int c = 0; c < collectors; ++c) {
    auto col = std::make_shared<testing::FuncCollector>(
        [series, c](const CollectContext&, MetricSink& sink) {
          for (int i = 0; i < series; ++i) {
            std::string path = "/var/spool/postfix/" + std::to_string(c) + "/" + std::to_string(i);
            sink.Gauge(kDesc, {path}, 1e9 + i);
          }
          return Status::Ok();
        },
        std::vector<MetricDesc>{kDesc});
    cfg.collectors.push_back({"c" + std::to_string(c), 3600s, 60s, col, ""});
  }
  (void)e->Apply(std::move(cfg));  // a hand-built config: cannot fail
  while (true) {                   // wait for every first run
    std::string text = e->RenderMetrics();
    size_t n = 0;
    for (size_t p = text.find("mailstack_collector_success{"); p != std::string::npos;
         p = text.find("mailstack_collector_success{", p + 1)) {
      ++n;
    }
    if (static_cast<int>(n) == collectors) break;
    std::this_thread::sleep_for(1ms);
  }
  return e;
}

void BM_RenderMetrics(benchmark::State& state) {
  auto e = MakeExporter(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), true);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = e->RenderMetrics();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderMetrics)->Args({1, 3})->Args({8, 20})->Args({8, 250});

}  // namespace
}  // namespace mailstack

BENCHMARK_MAIN();
