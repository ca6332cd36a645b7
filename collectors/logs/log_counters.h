// The counters of the logs collector: every family of the "logs" section of
// shared/docs/product.md, fed one classified line (maillog::Event) at a time
// and written out as zero-filled series. Counting a line is array indexing
// plus a compare of the instance and service names (a handful per host):
// no allocation after the first line of a service.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/metrics.h"
#include "collectors/logs/patterns.h"
#include "collectors/parse/maillog.h"
#include "collectors/parse/syslog_line.h"

namespace mailstack::logs {

// Upper bounds of mailstack_postfix_delivery_delay_seconds (120 s among them: "delivery > 2 min" is an alert).
inline constexpr std::array<double, 18> kDelayBuckets = {0.1, 0.25, 0.5, 1,    2.5,  5,     10,    30,    60,
                                                         120, 300,  600, 1800, 3600, 10800, 21600, 43200, 86400};
// Most Postfix instances and master.cf services per instance counted apart;
// more (a misconfigured syslog_name, lines forged by a local user) are
// counted under the last one's "other".
inline constexpr size_t kMaxInstances = 16;
inline constexpr size_t kMaxServices = 32;
// dsn label values: "2.0".."2.7", "4.0".."4.7", "5.0".."5.7", "other".
inline constexpr size_t kDsnSlots = 25;

// The families (Describe() of the logs collector).
std::vector<MetricDesc> LogFamilies();

// Why a line was not a syslog line (mailstack_log_lines_malformed_total{reason}).
enum class Malformed : uint8_t { kEmpty = 0, kTooLong, kNulByte, kInvalidUtf8, kBadTimestamp, kBadHeader };
inline constexpr size_t kMalformedCount = 6;

class LogCounters {
 public:
  // `instances`: syslog_name -> postfix_instance label, zero-filled from the
  // start; other instances get their syslog_name as label when first seen.
  // `jails`: the fail2ban jails counted. `patterns`: the pattern names.
  LogCounters(const std::map<std::string, std::string>& instances, std::vector<std::string> jails,
              std::vector<std::string> patterns);
  ~LogCounters();
  LogCounters(LogCounters&&) noexcept;
  LogCounters& operator=(LogCounters&&) noexcept;

  // Counts one classified line whose message is `message`.
  void Count(const maillog::Event& e, std::string_view message);
  // A fail2ban ban in `jail` (ignored unless the jail is configured).
  void CountBan(std::string_view jail);
  uint64_t* pattern_counts() { return patterns_.data(); }

  void Emit(MetricSink& sink) const;

  // A reload's successor takes over `old`'s counts: every instance (a
  // configured one gets this one's label), Dovecot, OpenDKIM and unparsed
  // counts, and the jails' and patterns' counts by name.
  void TakeFrom(LogCounters& old);

  struct Instance;  // public for the .cc

 private:
  Instance* FindInstance(std::string_view syslog_name);
  void CountPostfix(const maillog::Event& e, std::string_view message);
  void CountDovecot(const maillog::Event& e);
  void CountOpendkim(const maillog::Event& e);

  std::vector<std::unique_ptr<Instance>> instances_;
  Instance* last_instance_ = nullptr;  // the one the last line was for (most lines are of one instance)
  bool overflow_logged_ = false;

  // Dovecot
  std::array<uint64_t, maillog::kDovecotProtocolCount> dovecot_logins_{};
  std::array<std::array<uint64_t, maillog::kLoginFailureCount>, maillog::kDovecotProtocolCount> login_failures_{};
  std::array<uint64_t, maillog::kAuthFailureCount> auth_failures_{};
  std::array<uint64_t, maillog::kLmtpStatusCount> lmtp_{};
  std::array<uint64_t, maillog::kSeverityCount> dovecot_severity_{};
  // OpenDKIM
  uint64_t dkim_signatures_ = 0;
  std::array<uint64_t, maillog::kDkimResultCount> dkim_verifications_{};
  std::array<uint64_t, maillog::kDkimErrorCount> dkim_errors_{};
  // unparsed lines by family (postfix, dovecot, opendkim)
  std::array<uint64_t, 3> unparsed_{};

  std::vector<std::string> jail_names_;
  std::vector<uint64_t> bans_;
  std::vector<std::string> pattern_names_;
  std::vector<uint64_t> patterns_;
};

// What the collector knows of one source (mailstack_log_*{source}).
struct SourceStats {
  uint64_t lines = 0;
  std::array<uint64_t, kMalformedCount> malformed{};
  double last_line_timestamp = 0;  // 0: no line with a time read yet
  bool up = false;
  uint64_t rotations = 0;
};
void EmitSource(MetricSink& sink, std::string_view source, const SourceStats& s);

// The whole per-line path of a syslog source (what the benchmarks measure):
// parse the line, classify it, count it, match the patterns on its message.
void CountSyslogLine(std::string_view line, bool truncated, const parse::TimeContext& tc, const PatternSet& patterns,
                     LogCounters& counters, SourceStats& stats);

// True if a deferred or bounced delivery's reason is the receiver refusing
// us for our reputation: its reply ("said: ...", "refused to talk to me: ...")
// says blocked, listed, blacklist/blocklist/denylist, Spamhaus or reputation.
bool ReceiverBlocksUs(std::string_view message);

}  // namespace mailstack::logs
