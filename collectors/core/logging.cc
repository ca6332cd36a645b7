#include "collectors/core/logging.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace mailstack {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kLogfmt)};
std::mutex g_sink_mu;
std::function<void(std::string_view)> g_sink;  // guarded by g_sink_mu

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// Appends v in double quotes with ", \\ and control characters escaped;
// other control characters use `control_format` (\\x%02x or \\u%04x).
void AppendQuoted(std::string& out, std::string_view v, const char* control_format) {
  out += '"';
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, control_format, static_cast<unsigned char>(c));
          out += b;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void AppendLogfmtValue(std::string& out, std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      quote = true;
      break;
    }
  }
  if (quote)
    AppendQuoted(out, v, "\\x%02x");
  else
    out += v;
}

void AppendJsonString(std::string& out, std::string_view v) { AppendQuoted(out, v, "\\u%04x"); }

std::string_view Basename(const char* file) {
  std::string_view f(file);
  // Keep "dir/file.cc" for context: strip up to the second-last slash.
  auto last = f.rfind('/');
  if (last == std::string_view::npos) return f;
  auto prev = f.rfind('/', last - 1);
  return prev == std::string_view::npos ? f : f.substr(prev + 1);
}

}  // namespace

bool ParseLogLevel(std::string_view s, LogLevel* out) {
  if (s == "debug")
    *out = LogLevel::kDebug;
  else if (s == "info")
    *out = LogLevel::kInfo;
  else if (s == "warn")
    *out = LogLevel::kWarn;
  else if (s == "error")
    *out = LogLevel::kError;
  else
    return false;
  return true;
}

bool ParseLogFormat(std::string_view s, LogFormat* out) {
  if (s == "logfmt")
    *out = LogFormat::kLogfmt;
  else if (s == "json")
    *out = LogFormat::kJson;
  else
    return false;
  return true;
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
void SetLogFormat(LogFormat format) { g_format = static_cast<int>(format); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void SetLogSinkForTest(std::function<void(std::string_view)> sink) {
  std::lock_guard<std::mutex> lock(g_sink_mu);
  g_sink = std::move(sink);
}

void Log(LogLevel level, const char* file, int line, std::string_view msg, std::initializer_list<LogField> fields) {
  std::string caller(Basename(file));
  caller += ':';
  caller += std::to_string(line);
  std::string out;
  out.reserve(128);
  if (static_cast<LogFormat>(g_format.load()) == LogFormat::kJson) {
    out += "{\"ts\":";
    AppendJsonString(out, Timestamp());
    out += ",\"level\":";
    AppendJsonString(out, LevelName(level));
    out += ",\"caller\":";
    AppendJsonString(out, caller);
    out += ",\"msg\":";
    AppendJsonString(out, msg);
    for (const auto& f : fields) {
      out += ',';
      AppendJsonString(out, f.key);
      out += ':';
      AppendJsonString(out, f.value);
    }
    out += "}\n";
  } else {
    out += "ts=";
    out += Timestamp();
    out += " level=";
    out += LevelName(level);
    out += " caller=";
    AppendLogfmtValue(out, caller);
    out += " msg=";
    AppendLogfmtValue(out, msg);
    for (const auto& f : fields) {
      out += ' ';
      out += f.key;
      out += '=';
      AppendLogfmtValue(out, f.value);
    }
    out += '\n';
  }
  std::lock_guard<std::mutex> lock(g_sink_mu);
  if (g_sink) {
    g_sink(out);
    return;
  }
  const char* p = out.data();
  size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;  // nothing sensible to do if stderr is gone
    p += n;
    left -= static_cast<size_t>(n);
  }
}

ProblemMemo::Change ProblemMemo::Update(const std::string& item, const std::string& kind) {
  auto it = last_.find(item);
  if (kind.empty()) {
    if (it == last_.end()) return Change::kSame;
    last_.erase(it);
    return Change::kCleared;
  }
  if (it != last_.end() && it->second == kind) return Change::kSame;
  last_[item] = kind;
  return Change::kNew;
}

ProblemMemo::Change ProblemMemo::Report(const std::string& item, const std::string& kind, std::string_view detail,
                                        const char* file, int line) {
  const Change change = Update(item, kind);
  if (change == Change::kNew && LogEnabled(LogLevel::kWarn)) {
    Log(LogLevel::kWarn, file, line, text_.problem,
        {{text_.item_field, item}, {"err", detail.empty() ? kind : detail}});
  } else if (change == Change::kCleared && LogEnabled(LogLevel::kInfo)) {
    Log(LogLevel::kInfo, file, line, text_.recovered, {{text_.item_field, item}});
  }
  return change;
}

}  // namespace mailstack
