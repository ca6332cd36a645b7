// Times postfix_queue collector runs and measures their memory, for
// tests/bench/queue_bench.py.
//   queue_bench --showq PATH [--runs N]     showq mode against a real Postfix
//   queue_bench --spool DIR [--runs N]      spool mode against a real queue_directory
//   queue_bench --replay FILE [--runs N]    showq mode against a recorded stream served
//                                           from disk over a unix socket (RSS growth)
// Prints one line: mode, runs, median and min ms, messages, RSS before/after/peak KB.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "collectors/postfix_queue_collector.h"

using namespace mailstack;

namespace {

long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return -1;
}

// Serves `file` to every connection, streaming from disk (constant memory).
class Replayer {
 public:
  Replayer(std::string file, std::string path) : file_(std::move(file)), path_(std::move(path)) {
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strncpy(un.sun_path, path_.c_str(), sizeof un.sun_path - 1);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&un), sizeof un);
    ::listen(fd_, 4);
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0 || stop_) break;
        FILE* f = std::fopen(file_.c_str(), "rb");
        char buf[65536];
        size_t n;
        while (f && (n = std::fread(buf, 1, sizeof buf, f)) > 0) {
          if (::send(c, buf, n, MSG_NOSIGNAL) < 0) break;
        }
        if (f) std::fclose(f);
        ::close(c);
      }
    });
  }
  ~Replayer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    ::unlink(path_.c_str());
  }

 private:
  std::string file_, path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string mode, target;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--runs")
      runs = std::atoi(argv[i + 1]);
    else {
      mode = a.substr(2);
      target = argv[i + 1];
    }
  }
  if (mode.empty()) {
    std::fprintf(stderr, "usage: queue_bench (--showq PATH | --spool DIR | --replay FILE) [--runs N]\n");
    return 2;
  }
  std::unique_ptr<Replayer> replayer;
  PostfixQueueCollector::Options o;
  if (mode == "showq")
    o.instances = {{"bench", target, ""}};
  else if (mode == "spool")
    o.instances = {{"bench", "", target}};
  else {
    std::string sock = "/tmp/queue_bench_" + std::to_string(::getpid()) + ".sock";
    replayer = std::make_unique<Replayer>(target, sock);
    o.instances = {{"bench", sock, ""}};
  }
  PostfixQueueCollector collector(o);
  std::atomic<bool> stop{false};
  const long rss_before = StatusKb("VmRSS:");
  std::vector<double> ms;
  double messages = -1;
  for (int r = 0; r < runs; ++r) {
    CollectContext ctx{Deadline::After(std::chrono::seconds(120)), &stop};
    MetricSink sink(collector.Describe());
    auto t0 = std::chrono::steady_clock::now();
    (void)collector.Collect(ctx, sink);  // its outcome is in the samples below
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    double up = 0, total = 0;
    for (const auto& f : sink.Take()) {
      for (const auto& m : f.metric) {
        if (f.name == "mailstack_postfix_up") up = m.gauge.value;
        if (f.name == "mailstack_postfix_queue_messages") total += m.gauge.value;
      }
    }
    if (up != 1) {
      std::fprintf(stderr, "collector run failed (postfix_up 0)\n");
      return 1;
    }
    messages = total;
  }
  // The first run of a collector is cold (spool mode fills its head cache);
  // the later ones are what a running exporter does every interval.
  const double first = ms[0];
  std::vector<double> later(ms.begin() + 1, ms.end());
  std::sort(ms.begin(), ms.end());
  std::sort(later.begin(), later.end());
  std::printf(
      "mode=%s runs=%d first_ms=%.2f later_median_ms=%.2f median_ms=%.2f min_ms=%.2f messages=%.0f "
      "rss_before_kb=%ld rss_after_kb=%ld rss_peak_kb=%ld\n",
      mode.c_str(), runs, first, later.empty() ? first : later[later.size() / 2], ms[ms.size() / 2], ms[0], messages,
      rss_before, StatusKb("VmRSS:"), StatusKb("VmHWM:"));
  return 0;
}
