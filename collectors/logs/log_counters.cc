#include "collectors/logs/log_counters.h"

#include <algorithm>

#include "collectors/core/logging.h"

namespace mailstack::logs {
namespace {

using maillog::Event;
using maillog::Kind;

// Postfix
constexpr CounterFamily<2> kConnections{"mailstack_postfix_smtpd_connections_total",
                                        "Connections to smtpd (\"connect from\") by master.cf service.",
                                        "postfix_instance", "service"};
constexpr CounterFamily<2> kMessages{"mailstack_postfix_smtpd_messages_total",
                                     "Messages accepted by smtpd (\"client=\" lines) by master.cf service.",
                                     "postfix_instance", "service"};
constexpr CounterFamily<2> kSaslLogins{
    "mailstack_postfix_smtpd_sasl_logins_total",
    "Messages accepted from SASL-authenticated clients (client= with sasl_username=).", "postfix_instance", "service"};
constexpr CounterFamily<2> kSaslFailures{"mailstack_postfix_smtpd_sasl_failures_total",
                                         "Failed SASL authentications (\"SASL ... authentication failed\").",
                                         "postfix_instance", "service"};
constexpr CounterFamily<3> kRejects{"mailstack_postfix_smtpd_rejects_total",
                                    "smtpd rejects (NOQUEUE and queued \"reject:\") by reason class.",
                                    "postfix_instance", "service", "reason"};
constexpr CounterFamily<2> kSmtpdTls{"mailstack_postfix_smtpd_tls_connections_total",
                                     "TLS connections established to smtpd.", "postfix_instance", "service"};
constexpr CounterFamily<3> kLost{"mailstack_postfix_smtpd_lost_connections_total",
                                 "Connections smtpd lost, by the last command (\"lost connection after X\").",
                                 "postfix_instance", "service", "after"};
constexpr CounterFamily<2> kPostscreen{"mailstack_postfix_postscreen_events_total", "postscreen events by kind.",
                                       "postfix_instance", "event"};
constexpr CounterFamily<1> kCleanupMessages{"mailstack_postfix_cleanup_messages_total",
                                            "Messages cleanup processed (\"message-id=\" lines).", "postfix_instance"};
constexpr CounterFamily<1> kCleanupRejects{"mailstack_postfix_cleanup_rejects_total",
                                           "Messages cleanup rejected (header/body checks, milters).",
                                           "postfix_instance"};
constexpr CounterFamily<1> kQmgrInserted{"mailstack_postfix_qmgr_messages_inserted_total",
                                         "Messages qmgr took into the active queue.", "postfix_instance"};
constexpr CounterFamily<1> kQmgrRemoved{"mailstack_postfix_qmgr_messages_removed_total",
                                        "Messages qmgr removed from the queue (all recipients done).",
                                        "postfix_instance"};
constexpr CounterFamily<1> kQmgrExpired{"mailstack_postfix_qmgr_messages_expired_total",
                                        "Messages qmgr returned to the sender after maximal_queue_lifetime.",
                                        "postfix_instance"};
constexpr CounterFamily<1> kBounceNotifications{"mailstack_postfix_bounce_notifications_total",
                                                "Non-delivery notifications Postfix sent to senders.",
                                                "postfix_instance"};
constexpr CounterFamily<3> kDeliveries{"mailstack_postfix_deliveries_total",
                                       "Delivery attempts per recipient by delivering program and status.",
                                       "postfix_instance", "transport", "status"};
constexpr HistogramFamily<3> kDelay{"mailstack_postfix_delivery_delay_seconds",
                                    "Time from arrival to the delivery attempt (delay=), in seconds.",
                                    "postfix_instance", "transport", "status"};
constexpr CounterFamily<3> kDelayStage{"mailstack_postfix_delivery_delay_stage_seconds_total",
                                       "Sums of the delays=a/b/c/d stages of delivery attempts, in seconds.",
                                       "postfix_instance", "transport", "stage"};
constexpr CounterFamily<4> kFailures{
    "mailstack_postfix_delivery_failures_total",
    "Deferred and bounced delivery attempts by enhanced status class and subject (dsn=4.4 of 4.4.1).",
    "postfix_instance",
    "transport",
    "status",
    "dsn"};
constexpr CounterFamily<3> kBlocked{
    "mailstack_postfix_delivery_blocked_total",
    "Deferred and bounced delivery attempts whose receiver says it blocks us (blocked, listed, reputation).",
    "postfix_instance", "transport", "status"};
constexpr CounterFamily<2> kConnectFailures{"mailstack_postfix_smtp_connect_failures_total",
                                            "Outbound connections (smtp, lmtp) that failed, by reason.",
                                            "postfix_instance", "reason"};
constexpr CounterFamily<2> kSmtpTls{"mailstack_postfix_smtp_tls_connections_total",
                                    "Outbound TLS connections by the peer certificate's trust.", "postfix_instance",
                                    "trust"};
constexpr CounterFamily<2> kPostfixLog{"mailstack_postfix_log_messages_total",
                                       "Postfix warning, error, fatal and panic log lines.", "postfix_instance",
                                       "severity"};
// Dovecot
constexpr CounterFamily<1> kDovecotLogins{"mailstack_dovecot_logins_total", "Successful Dovecot logins by protocol.",
                                          "protocol"};
constexpr CounterFamily<2> kDovecotLoginFailures{
    "mailstack_dovecot_login_failures_total",
    "Dovecot login processes' disconnects without a login, by protocol and reason.", "protocol", "reason"};
constexpr CounterFamily<1> kDovecotAuthFailures{"mailstack_dovecot_auth_failures_total",
                                                "Dovecot auth failures (passdb lookups) by reason.", "reason"};
constexpr CounterFamily<1> kLmtp{"mailstack_dovecot_lmtp_deliveries_total",
                                 "Dovecot LMTP deliveries into mailboxes by result.", "status"};
constexpr CounterFamily<1> kDovecotLog{"mailstack_dovecot_log_messages_total",
                                       "Dovecot warning, error, fatal and panic log lines.", "severity"};
// OpenDKIM
constexpr CounterFamily<0> kDkimSignatures{"mailstack_opendkim_signatures_total",
                                           "DKIM signatures OpenDKIM added (\"DKIM-Signature field added\")."};
constexpr CounterFamily<1> kDkimVerifications{"mailstack_opendkim_verifications_total",
                                              "DKIM verifications by OpenDKIM by result.", "result"};
constexpr CounterFamily<1> kDkimErrors{"mailstack_opendkim_errors_total", "OpenDKIM errors by kind.", "kind"};
// fail2ban, patterns
constexpr CounterFamily<1> kBans{"mailstack_fail2ban_bans_total", "New fail2ban bans in the configured jails.", "jail"};
constexpr CounterFamily<1> kPatterns{"mailstack_log_pattern_matches_total",
                                     "Log lines whose message contains the named pattern.", "pattern"};
// The collector's own
constexpr CounterFamily<1> kLines{"mailstack_log_lines_total", "Lines read from the source.", "source"};
constexpr CounterFamily<1> kUnparsed{"mailstack_log_lines_unparsed_total",
                                     "Lines of a watched program that no matcher knows (counted, never guessed).",
                                     "program"};
constexpr CounterFamily<2> kMalformed{"mailstack_log_lines_malformed_total",
                                      "Lines that are not syslog lines (no timestamp or tag, NUL, invalid UTF-8, "
                                      "over 64 KiB), by reason.",
                                      "source", "reason"};
constexpr GaugeFamily<1> kLastLine{"mailstack_log_last_line_timestamp_seconds",
                                   "Time written in the newest line read from the source, as a Unix time.", "source"};
constexpr GaugeFamily<1> kSourceUp{"mailstack_log_source_up", "1 if the source could be read in the last run.",
                                   "source"};
constexpr CounterFamily<1> kRotations{"mailstack_log_rotations_total",
                                      "Rotations of the source seen (a new file at the path, or the file truncated).",
                                      "source"};

constexpr std::array<std::string_view, kMalformedCount> kMalformedNames = {
    "empty", "too_long", "nul_byte", "invalid_utf8", "bad_timestamp", "bad_header"};
constexpr std::array<std::string_view, 3> kProgramNames = {"postfix", "dovecot", "opendkim"};

constexpr size_t kT = maillog::kTransportCount;
constexpr size_t kS = maillog::kDeliveryStatusCount;

// "2.0".."5.7" by slot (class 2, 4, 5 times subject 0..7), "other" last.
std::string_view DsnSlotName(size_t slot) {
  static const std::array<std::string, kDsnSlots> kNames = [] {
    std::array<std::string, kDsnSlots> a;
    const char classes[] = {'2', '4', '5'};
    for (size_t c = 0; c < 3; ++c) {
      for (size_t s = 0; s < 8; ++s) a[c * 8 + s] = std::string{classes[c], '.', static_cast<char>('0' + s)};
    }
    a[kDsnSlots - 1] = "other";
    return a;
  }();
  return kNames[slot];
}

size_t DsnSlot(maillog::Dsn d) {
  size_t c = 0;
  switch (d.status_class) {
    case 2: c = 0; break;
    case 4: c = 1; break;
    case 5: c = 2; break;
    default: return kDsnSlots - 1;
  }
  return d.subject <= 7 ? c * 8 + d.subject : kDsnSlots - 1;
}

template <size_t N>
void Add(std::array<uint64_t, N>& a, size_t i) {
  if (i < N) ++a[i];
}

}  // namespace

struct Service {
  std::string name;
  uint64_t connections = 0, messages = 0, sasl_logins = 0, sasl_failures = 0, tls = 0;
  std::array<uint64_t, maillog::kRejectReasonCount> rejects{};
  std::array<uint64_t, maillog::kSmtpStageCount> lost{};
};

struct Delivery {
  uint64_t count = 0;
  std::array<uint64_t, kDelayBuckets.size() + 1> buckets{};  // per bucket, not cumulative; the last is +Inf
  double delay_sum = 0;
  std::array<uint64_t, kDsnSlots> failures{};
  uint64_t blocked = 0;
};

struct LogCounters::Instance {
  std::string syslog_name;
  std::string label;
  std::vector<Service> services;
  std::array<uint64_t, maillog::kPostscreenEventCount> postscreen{};
  uint64_t cleanup_messages = 0, cleanup_rejects = 0, inserted = 0, removed = 0, expired = 0, bounces = 0;
  std::array<std::array<Delivery, kS>, kT> deliveries{};
  std::array<std::array<double, 4>, kT> stage_sums{};
  std::array<uint64_t, maillog::kConnectFailureCount> connect_failures{};
  std::array<uint64_t, maillog::kTlsTrustCount> smtp_tls{};
  std::array<uint64_t, maillog::kSeverityCount> severity{};

  Service& FindService(std::string_view name) {
    for (Service& s : services) {
      if (s.name == name) return s;
    }
    if (services.size() + 1 >= kMaxServices) {
      for (Service& s : services) {
        if (s.name == "other") return s;
      }
      services.push_back(Service{"other"});
      return services.back();
    }
    services.push_back(Service{std::string(name)});
    return services.back();
  }
};

std::vector<MetricDesc> LogFamilies() {
  return {kConnections,
          kMessages,
          kSaslLogins,
          kSaslFailures,
          kRejects,
          kSmtpdTls,
          kLost,
          kPostscreen,
          kCleanupMessages,
          kCleanupRejects,
          kQmgrInserted,
          kQmgrRemoved,
          kQmgrExpired,
          kBounceNotifications,
          kDeliveries,
          kDelay,
          kDelayStage,
          kFailures,
          kBlocked,
          kConnectFailures,
          kSmtpTls,
          kPostfixLog,
          kDovecotLogins,
          kDovecotLoginFailures,
          kDovecotAuthFailures,
          kLmtp,
          kDovecotLog,
          kDkimSignatures,
          kDkimVerifications,
          kDkimErrors,
          kBans,
          kPatterns,
          kLines,
          kUnparsed,
          kMalformed,
          kLastLine,
          kSourceUp,
          kRotations};
}

LogCounters::LogCounters(const std::map<std::string, std::string>& instances, std::vector<std::string> jails,
                         std::vector<std::string> patterns)
    : jail_names_(std::move(jails)),
      bans_(jail_names_.size(), 0),
      pattern_names_(std::move(patterns)),
      patterns_(pattern_names_.size(), 0) {
  for (const auto& [syslog_name, label] : instances) {
    auto inst = std::make_unique<Instance>();
    inst->syslog_name = syslog_name;
    inst->label = label;
    inst->services.push_back(Service{"smtpd"});
    instances_.push_back(std::move(inst));
  }
}
LogCounters::~LogCounters() = default;
LogCounters::LogCounters(LogCounters&&) noexcept = default;
LogCounters& LogCounters::operator=(LogCounters&&) noexcept = default;

LogCounters::Instance* LogCounters::FindInstance(std::string_view syslog_name) {
  if (last_instance_ != nullptr && last_instance_->syslog_name == syslog_name) return last_instance_;
  for (auto& inst : instances_) {
    if (inst->syslog_name == syslog_name) return last_instance_ = inst.get();
  }
  if (instances_.size() >= kMaxInstances) {
    if (!overflow_logged_) {
      overflow_logged_ = true;
      MS_LOG(kWarn, "more Postfix instances than counted apart; their lines count as unparsed",
             {{"max", kMaxInstances}, {"syslog_name", syslog_name}});
    }
    return nullptr;
  }
  auto inst = std::make_unique<Instance>();
  inst->syslog_name = std::string(syslog_name);
  inst->label = inst->syslog_name;
  inst->services.push_back(Service{"smtpd"});
  instances_.push_back(std::move(inst));
  return last_instance_ = instances_.back().get();
}

void LogCounters::Count(const Event& e, std::string_view message) {
  switch (e.family) {
    case maillog::Family::kPostfix: return CountPostfix(e, message);
    case maillog::Family::kDovecot: return CountDovecot(e);
    case maillog::Family::kOpendkim: return CountOpendkim(e);
    case maillog::Family::kOther: return;
  }
}

void LogCounters::CountPostfix(const Event& e, std::string_view message) {
  Instance* inst = FindInstance(e.instance);
  if (inst == nullptr || e.kind == Kind::kUnparsed) {
    ++unparsed_[0];
    return;
  }
  Add(inst->severity, static_cast<size_t>(e.severity));
  switch (e.kind) {
    case Kind::kSmtpdConnect: ++inst->FindService(e.service).connections; break;
    case Kind::kSmtpdClient: {
      Service& s = inst->FindService(e.service);
      ++s.messages;
      if (e.sasl_login) ++s.sasl_logins;
      break;
    }
    case Kind::kSmtpdSaslFailure: ++inst->FindService(e.service).sasl_failures; break;
    case Kind::kSmtpdReject: Add(inst->FindService(e.service).rejects, static_cast<size_t>(e.reject_reason)); break;
    case Kind::kSmtpdTls: ++inst->FindService(e.service).tls; break;
    case Kind::kSmtpdLostConnection: Add(inst->FindService(e.service).lost, static_cast<size_t>(e.lost_after)); break;
    case Kind::kPostscreen: Add(inst->postscreen, static_cast<size_t>(e.postscreen)); break;
    case Kind::kCleanupMessage: ++inst->cleanup_messages; break;
    case Kind::kCleanupReject: ++inst->cleanup_rejects; break;
    case Kind::kQmgrInserted: ++inst->inserted; break;
    case Kind::kQmgrRemoved: ++inst->removed; break;
    case Kind::kQmgrExpired: ++inst->expired; break;
    case Kind::kBounceNotification: ++inst->bounces; break;
    case Kind::kDelivery: {
      const auto t = std::min(static_cast<size_t>(e.transport), kT - 1);
      const auto st = std::min(static_cast<size_t>(e.status), kS - 1);
      Delivery& d = inst->deliveries[t][st];
      ++d.count;
      const auto b = std::lower_bound(kDelayBuckets.begin(), kDelayBuckets.end(), e.delay) - kDelayBuckets.begin();
      ++d.buckets[static_cast<size_t>(b)];
      d.delay_sum += e.delay;
      for (size_t i = 0; i < 4; ++i) inst->stage_sums[t][i] += e.delays[i];
      if (e.status != maillog::DeliveryStatus::kSent) {
        ++d.failures[DsnSlot(e.dsn)];
        if (ReceiverBlocksUs(message)) ++d.blocked;
      }
      if (e.has_connect_failure) Add(inst->connect_failures, static_cast<size_t>(e.connect_failure));
      break;
    }
    case Kind::kSmtpConnectFailure: Add(inst->connect_failures, static_cast<size_t>(e.connect_failure)); break;
    case Kind::kSmtpTls: Add(inst->smtp_tls, static_cast<size_t>(e.tls_trust)); break;
    default: break;
  }
}

void LogCounters::CountDovecot(const Event& e) {
  if (e.kind == Kind::kUnparsed) {
    ++unparsed_[1];
    return;
  }
  Add(dovecot_severity_, static_cast<size_t>(e.severity));
  const auto proto = static_cast<size_t>(e.protocol);
  switch (e.kind) {
    case Kind::kDovecotLogin: Add(dovecot_logins_, proto); break;
    case Kind::kDovecotLoginFailure:
      if (proto < login_failures_.size()) Add(login_failures_[proto], static_cast<size_t>(e.login_failure));
      break;
    case Kind::kDovecotAuthFailure: Add(auth_failures_, static_cast<size_t>(e.auth_failure)); break;
    case Kind::kDovecotDelivery: Add(lmtp_, static_cast<size_t>(e.lmtp_status)); break;
    default: break;
  }
}

void LogCounters::CountOpendkim(const Event& e) {
  switch (e.kind) {
    case Kind::kUnparsed: ++unparsed_[2]; break;
    case Kind::kDkimSignature: ++dkim_signatures_; break;
    case Kind::kDkimVerification: Add(dkim_verifications_, static_cast<size_t>(e.dkim_result)); break;
    case Kind::kDkimError: Add(dkim_errors_, static_cast<size_t>(e.dkim_error)); break;
    default: break;
  }
}

void LogCounters::TakeFrom(LogCounters& old) {
  std::vector<std::unique_ptr<Instance>> merged;
  for (auto& o : old.instances_) {
    std::string label = o->syslog_name;
    for (const auto& mine : instances_) {
      if (mine->syslog_name == o->syslog_name) label = mine->label;
    }
    o->label = std::move(label);
    merged.push_back(std::move(o));
  }
  for (auto& mine : instances_) {
    bool had = false;
    for (const auto& m : merged) had = had || m->syslog_name == mine->syslog_name;
    if (!had) merged.push_back(std::move(mine));
  }
  instances_ = std::move(merged);
  last_instance_ = nullptr;
  overflow_logged_ = old.overflow_logged_;
  dovecot_logins_ = old.dovecot_logins_;
  login_failures_ = old.login_failures_;
  auth_failures_ = old.auth_failures_;
  lmtp_ = old.lmtp_;
  dovecot_severity_ = old.dovecot_severity_;
  dkim_signatures_ = old.dkim_signatures_;
  dkim_verifications_ = old.dkim_verifications_;
  dkim_errors_ = old.dkim_errors_;
  unparsed_ = old.unparsed_;
  for (size_t i = 0; i < jail_names_.size(); ++i) {
    for (size_t j = 0; j < old.jail_names_.size(); ++j) {
      if (old.jail_names_[j] == jail_names_[i]) bans_[i] = old.bans_[j];
    }
  }
  for (size_t i = 0; i < pattern_names_.size(); ++i) {
    for (size_t j = 0; j < old.pattern_names_.size(); ++j) {
      if (old.pattern_names_[j] == pattern_names_[i]) patterns_[i] = old.patterns_[j];
    }
  }
}

void LogCounters::CountBan(std::string_view jail) {
  for (size_t i = 0; i < jail_names_.size(); ++i) {
    if (jail_names_[i] == jail) {
      ++bans_[i];
      return;
    }
  }
}

namespace {

template <size_t N, size_t M>
void EmitEach(MetricSink& sink, const CounterFamily<N>& f, std::string_view a, const std::array<uint64_t, M>& v,
              const std::array<std::string_view, M>& names) {
  if constexpr (N == 1) {
    for (size_t i = 0; i < M; ++i) sink.Counter(f, {names[i]}, static_cast<double>(v[i]));
  } else {
    for (size_t i = 0; i < M; ++i) sink.Counter(f, {a, names[i]}, static_cast<double>(v[i]));
  }
}

void EmitServices(MetricSink& sink, const LogCounters::Instance& inst) {
  const std::string_view in = inst.label;
  for (const Service& s : inst.services) {
    const std::string_view sv = s.name;
    sink.Counter(kConnections, {in, sv}, static_cast<double>(s.connections));
    sink.Counter(kMessages, {in, sv}, static_cast<double>(s.messages));
    sink.Counter(kSaslLogins, {in, sv}, static_cast<double>(s.sasl_logins));
    sink.Counter(kSaslFailures, {in, sv}, static_cast<double>(s.sasl_failures));
    sink.Counter(kSmtpdTls, {in, sv}, static_cast<double>(s.tls));
    for (size_t i = 0; i < s.rejects.size(); ++i) {
      sink.Counter(kRejects, {in, sv, maillog::kRejectReasonNames[i]}, static_cast<double>(s.rejects[i]));
    }
    for (size_t i = 0; i < s.lost.size(); ++i) {
      sink.Counter(kLost, {in, sv, maillog::kSmtpStageNames[i]}, static_cast<double>(s.lost[i]));
    }
  }
}

// The dsn values zero-filled for a status: its own class (4.x deferred, 5.x bounced).
bool DsnShown(size_t status, size_t slot, uint64_t count) {
  if (count != 0) return true;
  if (status == static_cast<size_t>(maillog::DeliveryStatus::kDeferred)) return slot >= 8 && slot < 16;
  if (status == static_cast<size_t>(maillog::DeliveryStatus::kBounced)) return slot >= 16 && slot < 24;
  return false;
}

void EmitDeliveries(MetricSink& sink, const LogCounters::Instance& inst) {
  static const std::vector<double> kBounds(kDelayBuckets.begin(), kDelayBuckets.end());
  const std::string_view in = inst.label;
  std::vector<uint64_t> cumulative(kDelayBuckets.size());
  for (size_t t = 0; t < kT; ++t) {
    const std::string_view tn = maillog::kTransportNames[t];
    for (size_t st = 0; st < kS; ++st) {
      const Delivery& d = inst.deliveries[t][st];
      const std::string_view sn = maillog::kDeliveryStatusNames[st];
      sink.Counter(kDeliveries, {in, tn, sn}, static_cast<double>(d.count));
      uint64_t running = 0;
      for (size_t b = 0; b < kDelayBuckets.size(); ++b) cumulative[b] = running += d.buckets[b];
      sink.Histogram(kDelay, {in, tn, sn}, kBounds, cumulative, d.delay_sum, d.count);
      if (st == static_cast<size_t>(maillog::DeliveryStatus::kSent)) continue;
      sink.Counter(kBlocked, {in, tn, sn}, static_cast<double>(d.blocked));
      for (size_t slot = 0; slot < kDsnSlots; ++slot) {
        if (DsnShown(st, slot, d.failures[slot])) {
          sink.Counter(kFailures, {in, tn, sn, DsnSlotName(slot)}, static_cast<double>(d.failures[slot]));
        }
      }
    }
    for (size_t i = 0; i < 4; ++i) {
      sink.Counter(kDelayStage, {in, tn, maillog::kDelayStageNames[i]}, inst.stage_sums[t][i]);
    }
  }
}

}  // namespace

void LogCounters::Emit(MetricSink& sink) const {
  static constexpr std::array<std::string_view, maillog::kSeverityCount - 1> kSeverities = {"warning", "error", "fatal",
                                                                                            "panic"};
  for (const auto& p : instances_) {
    const Instance& inst = *p;
    const std::string_view in = inst.label;
    EmitServices(sink, inst);
    EmitEach(sink, kPostscreen, in, inst.postscreen, maillog::kPostscreenEventNames);
    sink.Counter(kCleanupMessages, {in}, static_cast<double>(inst.cleanup_messages));
    sink.Counter(kCleanupRejects, {in}, static_cast<double>(inst.cleanup_rejects));
    sink.Counter(kQmgrInserted, {in}, static_cast<double>(inst.inserted));
    sink.Counter(kQmgrRemoved, {in}, static_cast<double>(inst.removed));
    sink.Counter(kQmgrExpired, {in}, static_cast<double>(inst.expired));
    sink.Counter(kBounceNotifications, {in}, static_cast<double>(inst.bounces));
    EmitDeliveries(sink, inst);
    EmitEach(sink, kConnectFailures, in, inst.connect_failures, maillog::kConnectFailureNames);
    EmitEach(sink, kSmtpTls, in, inst.smtp_tls, maillog::kTlsTrustNames);
    for (size_t i = 0; i < kSeverities.size(); ++i) {
      sink.Counter(kPostfixLog, {in, kSeverities[i]}, static_cast<double>(inst.severity[i + 1]));
    }
  }
  EmitEach(sink, kDovecotLogins, "", dovecot_logins_, maillog::kDovecotProtocolNames);
  for (size_t p = 0; p < login_failures_.size(); ++p) {
    EmitEach(sink, kDovecotLoginFailures, maillog::kDovecotProtocolNames[p], login_failures_[p],
             maillog::kLoginFailureNames);
  }
  EmitEach(sink, kDovecotAuthFailures, "", auth_failures_, maillog::kAuthFailureNames);
  EmitEach(sink, kLmtp, "", lmtp_, maillog::kLmtpStatusNames);
  for (size_t i = 0; i < kSeverities.size(); ++i) {
    sink.Counter(kDovecotLog, {kSeverities[i]}, static_cast<double>(dovecot_severity_[i + 1]));
  }
  sink.Counter(kDkimSignatures, {}, static_cast<double>(dkim_signatures_));
  EmitEach(sink, kDkimVerifications, "", dkim_verifications_, maillog::kDkimResultNames);
  EmitEach(sink, kDkimErrors, "", dkim_errors_, maillog::kDkimErrorNames);
  for (size_t i = 0; i < jail_names_.size(); ++i) sink.Counter(kBans, {jail_names_[i]}, static_cast<double>(bans_[i]));
  for (size_t i = 0; i < pattern_names_.size(); ++i) {
    sink.Counter(kPatterns, {pattern_names_[i]}, static_cast<double>(patterns_[i]));
  }
  EmitEach(sink, kUnparsed, "", unparsed_, kProgramNames);
}

void EmitSource(MetricSink& sink, std::string_view source, const SourceStats& s) {
  sink.Counter(kLines, {source}, static_cast<double>(s.lines));
  for (size_t i = 0; i < kMalformedCount; ++i) {
    sink.Counter(kMalformed, {source, kMalformedNames[i]}, static_cast<double>(s.malformed[i]));
  }
  if (s.last_line_timestamp > 0) sink.Gauge(kLastLine, {source}, s.last_line_timestamp);
  sink.Gauge(kSourceUp, {source}, s.up ? 1 : 0);
  sink.Counter(kRotations, {source}, static_cast<double>(s.rotations));
}

namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool ContainsFolded(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && Lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

}  // namespace

void CountSyslogLine(std::string_view line, bool truncated, const parse::TimeContext& tc, const PatternSet& patterns,
                     LogCounters& counters, SourceStats& stats) {
  ++stats.lines;
  parse::SyslogLine sl;
  const parse::SyslogStatus ps = truncated ? parse::SyslogStatus::kTooLong : parse::ParseSyslogLine(line, tc, &sl);
  if (ps != parse::SyslogStatus::kOk) {
    ++stats.malformed[static_cast<size_t>(ps) - 1];
    return;
  }
  stats.last_line_timestamp = sl.UnixTime();
  const maillog::Event e = maillog::Classify(sl);
  counters.Count(e, sl.message);
  patterns.Match(sl.message, counters.pattern_counts());
}

bool ReceiverBlocksUs(std::string_view message) {
  size_t reply = message.find(" said: ");
  if (reply == std::string_view::npos) reply = message.find("refused to talk to me: ");
  if (reply == std::string_view::npos) return false;
  const std::string_view text = message.substr(reply);
  for (std::string_view needle : {"block", "listed", "blacklist", "denylist", "spamhaus", "reputation"}) {
    if (ContainsFolded(text, needle)) return true;
  }
  return false;
}

}  // namespace mailstack::logs
