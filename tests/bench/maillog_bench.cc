// CPU cost of the log line parser and the mail log classifier (no file
// reading, no metrics): a realistic generated mix of Postfix, Dovecot and
// OpenDKIM lines (sessions built from the line shapes of
// tests/parse/maillog_test.cc, most of them the lab's), in Debian's
// traditional syslog format with a few lines of unwatched programs.
//   maillog_bench [--lines=N] [benchmark flags]   Google Benchmark, lines/s (items_per_second); N default 1M
//   maillog_bench --generate=FILE [--lines=N]     writes the mix (for grep -c status=sent, a replay)
//   maillog_bench --replay=FILE [--read-only]     reads FILE, parses and classifies every line and counts
//                                                 the kinds; --read-only only splits the lines (the
//                                                 baseline to subtract when counting instructions)
// Instructions per line (perf cannot read counters in a VM without a PMU):
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null maillog_bench --replay=FILE   (minus --read-only)
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/parse/maillog.h"
#include "collectors/parse/syslog_line.h"

namespace {

using namespace mailstack;

constexpr parse::TimeContext kTime{1797033600, 0};  // 2026-12-12T00:00:00Z, after the generated days

// One session: the lines one event of the mail flow writes, as "program|message"
// with placeholders {Q} (queue id), {R} (second queue id), {P} (client IP), {U} (user).
struct Session {
  int weight;
  std::vector<std::string_view> lines;
};

const std::vector<Session>& Sessions() {
  static const std::vector<Session> kSessions = {
      // inbound mail delivered to Dovecot over LMTP, verified by OpenDKIM
      {30,
       {"postfix/smtpd|connect from mail.remote.test[{P}]",
        "postfix/smtpd|Anonymous TLS connection established from mail.remote.test[{P}]: TLSv1.3 with cipher "
        "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
        "server-digest SHA256",
        "postfix/smtpd|{Q}: client=mail.remote.test[{P}]", "postfix/cleanup|{Q}: message-id=<20261204.{Q}@remote.test>",
        "opendkim|{Q}: DKIM verification successful",
        "postfix/qmgr|{Q}: from=<newsletter@remote.test>, size=4580, nrcpt=1 (queue active)",
        "postfix/smtpd|disconnect from mail.remote.test[{P}] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7",
        "dovecot|lmtp({U})<26801><Rb8RIdB9UGd4ZgAAyQq7Rg>: msgid=<20261204.{Q}@remote.test>: saved mail to INBOX",
        "postfix/lmtp|{Q}: to=<{U}>, relay=mail.example.test[private/dovecot-lmtp], delay=0.12, "
        "delays=0.05/0.01/0.01/0.05, dsn=2.0.0, status=sent (250 2.0.0 <{U}> Rb8RIdB9UGd4ZgAAyQq7Rg Saved)",
        "postfix/qmgr|{Q}: removed"}},
      // outbound mail submitted with SASL, signed, relayed over verified TLS
      {15,
       {"postfix/submission/smtpd|connect from client.example.test[{P}]",
        "postfix/submission/smtpd|Anonymous TLS connection established from client.example.test[{P}]: TLSv1.3 with "
        "cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
        "server-digest SHA256",
        "postfix/submission/smtpd|{Q}: client=client.example.test[{P}], sasl_method=PLAIN, sasl_username={U}",
        "postfix/cleanup|{Q}: message-id=<sasl0.1796409415.744561@example.test>",
        "opendkim|{Q}: DKIM-Signature field added (s=mail, d=example.test)",
        "postfix/qmgr|{Q}: from=<{U}>, size=580, nrcpt=1 (queue active)",
        "postfix/submission/smtpd|disconnect from client.example.test[{P}] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 "
        "data=1 quit=1 commands=8",
        "postfix/smtp|Verified TLS connection established to mx.remote.test[192.0.2.20]:25: TLSv1.3 with cipher "
        "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
        "server-digest SHA256",
        "postfix/smtp|{Q}: to=<friend@remote.test>, relay=mx.remote.test[192.0.2.20]:25, delay=1.23, "
        "delays=0.1/0.02/0.5/0.61, dsn=2.0.0, status=sent (250 2.0.0 OK 1733337304 x)",
        "postfix/qmgr|{Q}: removed"}},
      // rejected at RCPT: unknown user, relay attempt, blocklisted client
      {10,
       {"postfix/smtpd|connect from unknown[{P}]",
        "postfix/smtpd|NOQUEUE: reject: RCPT from unknown[{P}]: 550 5.1.1 <nobody0@example.test>: Recipient address "
        "rejected: User unknown in virtual mailbox table; from=<a@remote.test> to=<nobody0@example.test> "
        "proto=ESMTP helo=<client.example.test>",
        "postfix/smtpd|disconnect from unknown[{P}] ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=4/5"}},
      {5,
       {"postfix/smtpd|connect from unknown[{P}]",
        "postfix/smtpd|NOQUEUE: reject: RCPT from unknown[{P}]: 554 5.7.1 <someone@elsewhere.test>: Relay access "
        "denied; from=<a@remote.test> to=<someone@elsewhere.test> proto=ESMTP helo=<client.example.test>",
        "postfix/smtpd|disconnect from unknown[{P}] ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=4/5"}},
      {8,
       {"postfix/postscreen|CONNECT from [{P}]:41234 to [192.0.2.1]:25",
        "postfix/postscreen|DNSBL rank 3 for [{P}]:41234",
        "postfix/postscreen|NOQUEUE: reject: RCPT from [{P}]:41234: 550 5.7.1 Service unavailable; client [{P}] "
        "blocked using zen.spamhaus.org; from=<a@remote.test>, to=<b@example.test>, proto=ESMTP, helo=<x>",
        "postfix/postscreen|DISCONNECT [{P}]:41234"}},
      {10,
       {"postfix/postscreen|CONNECT from [{P}]:41234 to [192.0.2.1]:25", "postfix/postscreen|PASS OLD [{P}]:41234"}},
      // a deferral to a closed port, a bounce and its notification
      {4,
       {"postfix/smtp|connect to mx.remote.test[192.0.2.20]:25: Connection refused",
        "postfix/smtp|{Q}: to=<b@remote.test>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred "
        "(connect to mx.remote.test[192.0.2.20]:25: Connection refused)"}},
      {2,
       {"postfix/smtp|{Q}: to=<b@remote.test>, relay=mx.remote.test[192.0.2.20]:25, delay=2.5, delays=0.1/0/1.2/1.2, "
        "dsn=5.1.1, status=bounced (host mx.remote.test[192.0.2.20] said: 550 5.1.1 <b@remote.test>: Recipient "
        "address rejected: User unknown (in reply to RCPT TO command))",
        "postfix/cleanup|{R}: message-id=<20261204184000.{R}@example.test>",
        "postfix/bounce|{Q}: sender non-delivery notification: {R}",
        "postfix/qmgr|{R}: from=<>, size=2580, nrcpt=1 (queue active)", "postfix/qmgr|{Q}: removed"}},
      // SASL guessing and Dovecot's matching auth failure
      {5,
       {"postfix/submission/smtpd|connect from unknown[{P}]",
        "dovecot|auth: passwd-file({U},{P},<abc>): Password mismatch",
        "postfix/submission/smtpd|warning: unknown[{P}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, "
        "sasl_username={U}",
        "postfix/submission/smtpd|lost connection after AUTH from unknown[{P}]",
        "postfix/submission/smtpd|disconnect from unknown[{P}] ehlo=1 auth=0/1 commands=1/2"}},
      // IMAP/POP3 logins, successful and failed
      {12,
       {"dovecot|imap-login: Login: user=<{U}>, method=PLAIN, rip={P}, lip=192.0.2.1, mpid=1234, TLS, "
        "session=<ZRSXItNhZo1/AAAB>",
        "dovecot|imap({U})<1234><ZRSXItNhZo1/AAAB>: Disconnected: Logged out in=50 out=500 deleted=0 expunged=0 "
        "trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0"}},
      {3,
       {"dovecot|imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<{U}>, "
        "method=PLAIN, rip={P}, lip=192.0.2.1, TLS, session=<abc>"}},
      {2,
       {"dovecot|pop3-login: Disconnected: Aborted login by logging out (no auth attempts in 0 secs): user=<>, "
        "rip={P}, lip=192.0.2.1, TLS, session=<N0mXItNh0LJ/AAAB>"}},
      // a warning, a lost connection, a quota bounce at LMTP
      {2,
       {"postfix/smtpd|warning: hostname mail.remote.test does not resolve to address {P}: Name or service not known"}},
      {2, {"postfix/smtpd|lost connection after EHLO from unknown[{P}]"}},
      {1,
       {"dovecot|lmtp({U})<1234><abc>: msgid=<m@x>: save failed to INBOX: Quota exceeded (mailbox for user is full)"}},
      // programs nobody watches
      {5,
       {"CRON|(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
        "systemd|Started session-42.scope - Session 42 of User root."}},
  };
  return kSessions;
}

void Replace(std::string* s, std::string_view placeholder, const std::string& value) {
  for (size_t p = s->find(placeholder); p != std::string::npos; p = s->find(placeholder, p + value.size())) {
    s->replace(p, placeholder.size(), value);
  }
}

// `n` lines, one per element, deterministic.
std::vector<std::string> Generate(size_t n) {
  std::mt19937_64 rng(0x6d61696c6c6f67);
  const auto& sessions = Sessions();
  std::vector<int> pick;
  for (size_t i = 0; i < sessions.size(); ++i) pick.insert(pick.end(), sessions[i].weight, static_cast<int>(i));
  std::vector<std::string> out;
  out.reserve(n);
  int64_t t = 1796342400;  // 2026-12-04T00:00:00Z
  char stamp[32], qid[16], rid[16], ip[32], user[32];
  while (out.size() < n) {
    const Session& s = sessions[static_cast<size_t>(pick[rng() % pick.size()])];
    std::snprintf(qid, sizeof qid, "%011llX", static_cast<unsigned long long>(rng() & 0xFFFFFFFFFFFull));
    std::snprintf(rid, sizeof rid, "%011llX", static_cast<unsigned long long>(rng() & 0xFFFFFFFFFFFull));
    std::snprintf(ip, sizeof ip, "198.51.100.%u", static_cast<unsigned>(rng() % 254 + 1));
    std::snprintf(user, sizeof user, "user%u@example.test", static_cast<unsigned>(rng() % 500));
    const unsigned pid = static_cast<unsigned>(1000 + rng() % 60000);
    for (std::string_view tmpl : s.lines) {
      if (out.size() == n) break;
      t += static_cast<int64_t>(rng() % 2);
      const int64_t sod = t % 86400;
      std::snprintf(stamp, sizeof stamp, "Dec %2d %02d:%02d:%02d mail ", static_cast<int>(4 + (t - 1796342400) / 86400),
                    static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
      const size_t bar = tmpl.find('|');
      std::string message(tmpl.substr(bar + 1));
      Replace(&message, "{Q}", qid);
      Replace(&message, "{R}", rid);
      Replace(&message, "{P}", ip);
      Replace(&message, "{U}", user);
      out.push_back(std::string(stamp) + std::string(tmpl.substr(0, bar)) + "[" + std::to_string(pid) +
                    "]: " + message);
    }
  }
  return out;
}

// What the collector will do per line: parse, classify, count.
struct Counts {
  std::array<uint64_t, maillog::kKindCount> kinds{};
  uint64_t bad = 0;
  double delay_sum = 0;
};

inline void Count(std::string_view line, Counts* c) {
  parse::SyslogLine l;
  if (parse::ParseSyslogLine(line, kTime, &l) != parse::SyslogStatus::kOk) {
    ++c->bad;
    return;
  }
  const maillog::Event e = maillog::Classify(l);
  ++c->kinds[static_cast<size_t>(e.kind)];
  if (e.kind == maillog::Kind::kDelivery) c->delay_sum += e.delay;
}

size_t g_lines = 1000000;

const std::vector<std::string>& Lines() {
  static const std::vector<std::string> kLines = Generate(g_lines);
  return kLines;
}

void BM_ParseAndClassify(benchmark::State& state) {
  const auto& lines = Lines();
  Counts c;
  for (auto _ : state) {
    for (const std::string& line : lines) Count(line, &c);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
  state.counters["unparsed_share"] = static_cast<double>(c.kinds[static_cast<size_t>(maillog::Kind::kUnparsed)]) /
                                     static_cast<double>(state.iterations() * lines.size());
}
BENCHMARK(BM_ParseAndClassify)->Unit(benchmark::kMillisecond);

void BM_ParseOnly(benchmark::State& state) {
  const auto& lines = Lines();
  uint64_t ok = 0;
  for (auto _ : state) {
    for (const std::string& line : lines) {
      parse::SyslogLine l;
      ok += parse::ParseSyslogLine(line, kTime, &l) == parse::SyslogStatus::kOk;
    }
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
}
BENCHMARK(BM_ParseOnly)->Unit(benchmark::kMillisecond);

// The floor: one substring search per line (what grep -c status=sent does, in process).
void BM_FindStatusSent(benchmark::State& state) {
  const auto& lines = Lines();
  uint64_t n = 0;
  for (auto _ : state) {
    for (const std::string& line : lines) n += line.find("status=sent") != std::string::npos;
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
}
BENCHMARK(BM_FindStatusSent)->Unit(benchmark::kMillisecond);

int Replay(const std::string& path, bool read_only) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    return 2;
  }
  std::fseek(f, 0, SEEK_END);
  std::string data(static_cast<size_t>(std::ftell(f)), '\0');
  std::fseek(f, 0, SEEK_SET);
  data.resize(std::fread(data.data(), 1, data.size(), f));
  std::fclose(f);
  const auto start = std::chrono::steady_clock::now();
  Counts c;
  uint64_t lines = 0, bytes = 0;
  for (size_t pos = 0; pos < data.size();) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    const std::string_view line(data.data() + pos, nl - pos);
    ++lines;
    if (read_only) {
      bytes += line.size();
    } else {
      Count(line, &c);
    }
    pos = nl + 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %llu lines in %.3f s, %.0f lines/s%s\n", path.c_str(), static_cast<unsigned long long>(lines), secs,
              static_cast<double>(lines) / secs, read_only ? " (read-only)" : "");
  if (!read_only) {
    std::printf("bad %llu", static_cast<unsigned long long>(c.bad));
    for (size_t k = 0; k < maillog::kKindCount; ++k) {
      if (c.kinds[k] != 0) {
        std::printf(" %s=%llu", std::string(maillog::KindName(static_cast<maillog::Kind>(k))).c_str(),
                    static_cast<unsigned long long>(c.kinds[k]));
      }
    }
    std::printf("\n");
  } else {
    std::printf("bytes %llu\n", static_cast<unsigned long long>(bytes));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string generate, replay;
  bool read_only = false;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--lines=", 8) == 0) {
      g_lines = static_cast<size_t>(std::atol(argv[i] + 8));
    } else if (std::strncmp(argv[i], "--generate=", 11) == 0) {
      generate = argv[i] + 11;
    } else if (std::strncmp(argv[i], "--replay=", 9) == 0) {
      replay = argv[i] + 9;
    } else if (std::strcmp(argv[i], "--read-only") == 0) {
      read_only = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!replay.empty()) return Replay(replay, read_only);
  if (!generate.empty()) {
    std::ofstream out(generate, std::ios::binary);
    for (const std::string& line : Lines()) out << line << '\n';
    std::printf("%zu lines written to %s\n", Lines().size(), generate.c_str());
    return out.good() ? 0 : 1;
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
