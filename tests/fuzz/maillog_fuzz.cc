// Fuzz target: the log line parser and the mail log classifier. The input is
// split into lines; each line goes through ParseSyslogLine (with a reference
// time and UTC offset taken from the first bytes) and, when it parses,
// through Classify; every line is also classified directly as "program
// message" (first word, rest) with and without a host, so the classifier
// sees bytes the line parser would have refused. Invariants: no crash; every
// view lies inside the line; a parsed line passed CheckLineBytes; the event's
// enums are in range; a delivery has a DSN and finite, non-negative delays.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "collectors/parse/maillog.h"
#include "collectors/parse/syslog_line.h"

using namespace mailstack;

namespace {

bool Within(std::string_view inner, std::string_view outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

void CheckEvent(const maillog::Event& e, std::string_view program) {
  using namespace maillog;
  if (static_cast<size_t>(e.kind) >= kKindCount) __builtin_trap();
  if (static_cast<size_t>(e.severity) >= kSeverityCount) __builtin_trap();
  if (static_cast<size_t>(e.reject_reason) >= kRejectReasonCount) __builtin_trap();
  if (static_cast<size_t>(e.lost_after) >= kSmtpStageCount) __builtin_trap();
  if (static_cast<size_t>(e.postscreen) >= kPostscreenEventCount) __builtin_trap();
  if (static_cast<size_t>(e.tls_trust) >= kTlsTrustCount) __builtin_trap();
  if (static_cast<size_t>(e.transport) >= kTransportCount) __builtin_trap();
  if (static_cast<size_t>(e.status) >= kDeliveryStatusCount) __builtin_trap();
  if (static_cast<size_t>(e.connect_failure) >= kConnectFailureCount) __builtin_trap();
  if (static_cast<size_t>(e.login_failure) >= kLoginFailureCount) __builtin_trap();
  if (static_cast<size_t>(e.auth_failure) >= kAuthFailureCount) __builtin_trap();
  if (static_cast<size_t>(e.lmtp_status) >= kLmtpStatusCount) __builtin_trap();
  if (static_cast<size_t>(e.dkim_result) >= kDkimResultCount) __builtin_trap();
  if (static_cast<size_t>(e.dkim_error) >= kDkimErrorCount) __builtin_trap();
  if (!Within(e.instance, program) || !Within(e.service, program)) __builtin_trap();
  if ((e.family == Family::kOther) != (e.kind == Kind::kIgnored)) __builtin_trap();
  if (e.kind == Kind::kDelivery) {
    if (!e.dsn.valid()) __builtin_trap();
    if (!std::isfinite(e.delay) || e.delay < 0) __builtin_trap();
    for (double d : e.delays) {
      if (!std::isfinite(d) || d < 0) __builtin_trap();
    }
  }
  if (DsnLabel(e.dsn).size() != 0 && DsnLabel(e.dsn).size() != 3) __builtin_trap();
}

void OneLine(std::string_view line, const parse::TimeContext& tc) {
  parse::SyslogLine l;
  const parse::SyslogStatus s = parse::ParseSyslogLine(line, tc, &l);
  if (s == parse::SyslogStatus::kOk) {
    if (parse::CheckLineBytes(line.ends_with('\r') ? line.substr(0, line.size() - 1) : line) !=
        parse::SyslogStatus::kOk) {
      __builtin_trap();
    }
    if (!Within(l.host, line) || !Within(l.program, line) || !Within(l.message, line)) __builtin_trap();
    if (l.program.empty() || l.nanoseconds >= 1000000000u) __builtin_trap();
    CheckEvent(maillog::Classify(l), l.program);
  } else if (parse::SyslogStatusName(s) == "unknown") {
    __builtin_trap();
  }
  const size_t sp = line.find(' ');
  const std::string_view program = line.substr(0, sp);
  const std::string_view message = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  CheckEvent(maillog::Classify(program, message, true), program);
  CheckEvent(maillog::Classify(program, message, false), program);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  int64_t now = 1796409600;
  int32_t offset = 0;
  if (in.size() >= 4) {
    uint32_t seed;
    std::memcpy(&seed, in.data(), 4);
    now += static_cast<int64_t>(seed % (800u * 86400u)) - 400 * 86400;  // +-400 days
    offset = static_cast<int32_t>(seed % 97) * 900 - 12 * 3600;         // -12h .. +12h
  }
  const parse::TimeContext tc(now, offset);
  for (size_t start = 0; start <= in.size();) {
    size_t nl = in.find('\n', start);
    if (nl == std::string_view::npos) nl = in.size();
    OneLine(in.substr(start, nl - start), tc);
    start = nl + 1;
  }
  return 0;
}
