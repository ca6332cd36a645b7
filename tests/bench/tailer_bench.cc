// Throughput of logs::FileTailer reading a log that is already written (the
// catching-up case: start_at: beginning, or a burst): lines and bytes per
// second for a 1M-line file of realistic line lengths on tmpfs, with the
// byte budget of one run. Run: build/tests/bench/tailer_bench
// (TAILER_BENCH_LINES=N for another size; the smoke test uses 20000).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "collectors/logs/file_tailer.h"

namespace mailstack::logs {
namespace {

namespace fs = std::filesystem;

const std::string& LogFile() {
  static const std::string* const path = [] {
    const char* env = std::getenv("TAILER_BENCH_LINES");
    const long count = env != nullptr ? std::atol(env) : 1000000;
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    auto* p = new std::string((base / ("tailer_bench_" + std::to_string(::getpid()) + ".log")).string());
    std::ofstream out(*p);
    for (long i = 0; i < count; ++i) {
      out << "Dec  4 18:36:55 mail postfix/submission/smtpd[29267]: C616710E311: client=localhost[127.0.0.1], "
             "sasl_method=PLAIN, sasl_username=user"
          << i % 97 << "@example.test\n";
    }
    out.close();
    if (!out) {
      std::fprintf(stderr, "tailer_bench: cannot write %s\n", p->c_str());
      std::exit(1);
    }
    std::atexit([] { std::remove(LogFile().c_str()); });
    return p;
  }();
  return *path;
}

void BM_TailerCatchUp(benchmark::State& state) {
  const size_t budget = static_cast<size_t>(state.range(0)) << 20;
  uint64_t lines = 0, bytes = 0;
  for (auto _ : state) {
    TailOptions o;
    o.path = LogFile();
    o.start_at_end = false;
    FileTailer t(o);
    uint64_t n = 0;
    do {
      Status s = t.Poll(budget, Deadline::Never(), [&n](std::string_view, bool) { ++n; });
      if (!s.ok()) state.SkipWithError(s.message().c_str());
    } while (!t.caught_up());
    benchmark::DoNotOptimize(n);
    lines += n;
    bytes += t.bytes_read();
  }
  state.counters["lines_per_s"] = benchmark::Counter(static_cast<double>(lines), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_TailerCatchUp)->Arg(8)->Arg(64)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mailstack::logs

BENCHMARK_MAIN();
