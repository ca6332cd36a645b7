// Structured logging to stderr in logfmt (default) or JSON, with the keys
// ts, level, caller, msg, then the caller's fields. Thread-safe: a line is
// formatted privately and written with one write(2).
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>

namespace mailstack {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kLogfmt, kJson };

struct LogField {
  template <typename T>
  LogField(std::string_view k, const T& v) : key(k) {
    if constexpr (std::is_same_v<T, bool>) {
      value = v ? "true" : "false";
    } else if constexpr (std::is_arithmetic_v<T>) {
      value = std::to_string(v);
    } else {
      value = std::string(v);
    }
  }
  std::string_view key;
  std::string value;
};

// Parses "debug|info|warn|error" / "logfmt|json"; false on anything else.
bool ParseLogLevel(std::string_view s, LogLevel* out);
bool ParseLogFormat(std::string_view s, LogFormat* out);

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
bool LogEnabled(LogLevel level);
// Replaces the output (default: stderr). For tests; nullptr restores stderr.
void SetLogSinkForTest(std::function<void(std::string_view line)> sink);

void Log(LogLevel level, const char* file, int line, std::string_view msg, std::initializer_list<LogField> fields = {});

// What a ProblemMemo logs for its items: the warning when an item's problem
// appears or changes, the info line when it clears, and the log field that
// names the item (path, postfix_instance, probe, domain).
struct ProblemText {
  std::string_view problem;
  std::string_view recovered;
  std::string_view item_field;
};

// For collectors that log a problem per item: the last problem logged for
// each item, so a problem is logged once per distinct kind and its end once.
// Not thread-safe (one collector run).
class ProblemMemo {
 public:
  enum class Change { kSame, kNew, kCleared };
  ProblemMemo() = default;
  explicit ProblemMemo(ProblemText text) : text_(text) {}
  // `kind` names the problem; empty: the item is fine now. kNew: log the
  // problem; kCleared: log the recovery; kSame: nothing to log.
  // A peer that repeats one fault must give the same kind every run: no byte
  // offsets where a read happened to end, sizes of what a read returned,
  // timings, peer text that may carry a date or counter, or an order that
  // follows which answer came first. Pass the failure reason, or a message
  // built only from what the fault itself determines.
  Change Update(const std::string& item, const std::string& kind);
  // Update, then logs with this memo's ProblemText: on kNew a warning with
  // the item and err=detail (the kind when detail is empty), on kCleared the
  // recovery. The log's caller is the code that reported (__builtin_FILE and
  // __builtin_LINE, not std::source_location: clang 14, which builds the fuzz
  // targets, cannot use libstdc++ 12's source_location).
  Change Report(const std::string& item, const std::string& kind, std::string_view detail = {},
                const char* file = __builtin_FILE(), int line = __builtin_LINE());
  // Takes over `from`'s problems (a reload's successor): a problem already
  // logged is not logged again by the new collector.
  void TakeFrom(ProblemMemo& from) { last_ = std::move(from.last_); }

 private:
  ProblemText text_{"problem", "recovered", "item"};
  std::map<std::string, std::string> last_;
};

}  // namespace mailstack

#define MS_LOG(level, msg, ...)                                                               \
  do {                                                                                        \
    if (::mailstack::LogEnabled(::mailstack::LogLevel::level))                                \
      ::mailstack::Log(::mailstack::LogLevel::level, __FILE__, __LINE__, msg, ##__VA_ARGS__); \
  } while (0)
