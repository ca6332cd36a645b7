// Fuzz target: the logs collector's per-line path and its counters. The
// first input line defines up to 12 patterns (parts separated by '|',
// patterns by '\t'); every further line goes through CountSyslogLine (parse,
// classify, count, patterns) and ParseFail2banLine. Invariants: no crash; the
// prefilter counts exactly the lines the plain search matches; a fail2ban
// jail lies inside its line; every line is counted once; the counters emit
// only declared, well-formed samples (checked for one input in 16).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/metrics.h"
#include "collectors/logs/log_counters.h"
#include "collectors/logs/patterns.h"
#include "collectors/parse/fail2ban.h"

using namespace mailstack;

namespace {

std::vector<logs::Pattern> PatternsFrom(std::string_view spec) {
  std::vector<logs::Pattern> out;
  size_t start = 0;
  while (start <= spec.size() && out.size() < 12) {
    size_t tab = spec.find('\t', start);
    if (tab == std::string_view::npos) tab = spec.size();
    logs::Pattern p{"p" + std::to_string(out.size()), {}};
    std::string_view def = spec.substr(start, tab - start);
    size_t s = 0;
    while (s <= def.size()) {
      size_t bar = def.find('|', s);
      if (bar == std::string_view::npos) bar = def.size();
      std::string part(def.substr(s, bar - s));
      if (!part.empty() && part.find('\0') == std::string::npos) p.parts.push_back(part);
      s = bar + 1;
    }
    if (!p.parts.empty()) out.push_back(std::move(p));
    start = tab + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  const std::string_view spec = in.substr(0, nl);
  const std::vector<logs::Pattern> patterns = PatternsFrom(spec);
  const logs::PatternSet set(patterns);
  std::vector<std::string> names;
  for (const auto& p : patterns) names.push_back(p.name);
  logs::LogCounters counters({{"postfix", "postfix"}}, {"postfix-sasl"}, names);
  logs::SourceStats stats;
  const parse::TimeContext tc(1796409600, 3600);
  std::vector<uint64_t> expected(patterns.size(), 0);
  uint64_t lines = 0;
  for (size_t start = nl == std::string_view::npos ? in.size() + 1 : nl + 1; start <= in.size();) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = in.substr(start, end - start);
    ++lines;
    logs::CountSyslogLine(line, false, tc, set, counters, stats);
    parse::SyslogLine sl;
    if (parse::ParseSyslogLine(line, tc, &sl) == parse::SyslogStatus::kOk) {
      for (size_t i = 0; i < patterns.size(); ++i) expected[i] += logs::PatternSet::Matches(patterns[i], sl.message);
    }
    parse::Fail2banLine f;
    if (parse::ParseFail2banLine(line, &f) && f.ban) {
      if (f.jail.empty() || f.jail.data() < line.data() || f.jail.data() + f.jail.size() > line.data() + line.size()) {
        __builtin_trap();
      }
      counters.CountBan(f.jail);
    }
    start = end + 1;
  }
  if (stats.lines != lines) __builtin_trap();
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (counters.pattern_counts()[i] != expected[i]) __builtin_trap();
  }
  // Writing out the ~1,100 zero-filled series costs a thousand times a line: one input in 16 (by size) does.
  if (size % 16 != 0) return 0;
  const std::vector<MetricDesc> families = logs::LogFamilies();
  MetricSink sink(families);
  counters.Emit(sink);
  logs::EmitSource(sink, "/var/log/mail.log", stats);
  if (!sink.error().empty()) __builtin_trap();
  return 0;
}
