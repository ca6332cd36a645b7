#include "exporter/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "collectors/core/metrics.h"
#include "exporter/exposition.h"

namespace mailstack {
namespace {

constexpr CounterFamily<0> kCpu{"process_cpu_seconds_total", "Total user and system CPU time spent in seconds."};
constexpr GaugeFamily<0> kRss{"process_resident_memory_bytes", "Resident memory size in bytes."};
constexpr GaugeFamily<0> kVsize{"process_virtual_memory_bytes", "Virtual memory size in bytes."};
constexpr GaugeFamily<0> kOpenFds{"process_open_fds", "Number of open file descriptors."};
constexpr GaugeFamily<0> kMaxFds{"process_max_fds", "Maximum number of open file descriptors."};
constexpr GaugeFamily<0> kStart{"process_start_time_seconds", "Start time of the process since unix epoch in seconds."};

bool ReadSmallFile(const char* path, char* buf, size_t cap, size_t* len) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  *len = static_cast<size_t>(n);
  return true;
}

// Boot time from /proc/stat ("btime N"), read once.
double BootTime() {
  static const double kBoot = [] {
    FILE* f = std::fopen("/proc/stat", "re");
    if (!f) return 0.0;
    char line[256];
    double v = 0;
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "btime ", 6) == 0) {
        v = std::strtod(line + 6, nullptr);
        break;
      }
    }
    std::fclose(f);
    return v;
  }();
  return kBoot;
}

int CountOpenFds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory stream's own fd
}

}  // namespace

std::vector<MetricDesc> ProcessFamilies() { return {kCpu, kRss, kVsize, kOpenFds, kMaxFds, kStart}; }

void AppendProcessMetrics(std::string* out) {
  static const long kTicks = ::sysconf(_SC_CLK_TCK);
  static const long kPage = ::sysconf(_SC_PAGESIZE);
  char buf[1024];
  size_t len = 0;
  if (ReadSmallFile("/proc/self/stat", buf, sizeof buf, &len)) {
    // Fields after the command name, which is in parentheses and may contain spaces.
    const char* p = std::strrchr(buf, ')');
    if (p != nullptr) {
      ++p;
      // Field 3 (state) is first after ')'. We need 14 utime, 15 stime,
      // 22 starttime, 23 vsize, 24 rss.
      unsigned long long fields[25] = {};
      int idx = 3;
      char* cur = const_cast<char*>(p);
      while (*cur && idx <= 24) {
        while (*cur == ' ') ++cur;
        char* end = cur;
        fields[idx] = std::strtoull(cur, &end, 10);
        if (end == cur) {  // non-numeric field (state)
          while (*end && *end != ' ') ++end;
        }
        cur = end;
        ++idx;
      }
      if (idx > 24 && kTicks > 0) {
        AppendMetric(out, kCpu, static_cast<double>(fields[14] + fields[15]) / static_cast<double>(kTicks));
        AppendMetric(out, kVsize, static_cast<double>(fields[23]));
        AppendMetric(out, kRss, static_cast<double>(fields[24]) * static_cast<double>(kPage));
        double boot = BootTime();
        if (boot > 0) {
          AppendMetric(out, kStart, boot + static_cast<double>(fields[22]) / static_cast<double>(kTicks));
        }
      }
    }
  }
  int fds = CountOpenFds();
  if (fds >= 0) AppendMetric(out, kOpenFds, fds);
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    AppendMetric(out, kMaxFds, rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(rl.rlim_cur));
  }
}

}  // namespace mailstack
