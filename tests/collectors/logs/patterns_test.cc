#include "collectors/logs/patterns.h"

#include <gtest/gtest.h>

#include <random>

#include "collectors/parse/fail2ban.h"

namespace mailstack::logs {
namespace {

std::vector<uint64_t> Counts(const PatternSet& set, std::string_view text) {
  std::vector<uint64_t> c(set.size(), 0);
  set.Match(text, c.data());
  return c;
}

TEST(PatternSetTest, TheDefaultPatternsOnRealLines) {
  PatternSet set(DefaultPatterns());
  // authentication_failure, relay_access_denied, connect_refused, tls_library_problem, unknown_signing_key
  EXPECT_EQ(Counts(set, "warning: localhost[127.0.0.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"),
            (std::vector<uint64_t>{1, 0, 0, 0, 0}));
  EXPECT_EQ(Counts(set, "pam_unix(dovecot:auth): authentication failure; logname= uid=0"),
            (std::vector<uint64_t>{1, 0, 0, 0, 0}));
  EXPECT_EQ(Counts(set, "NOQUEUE: reject: RCPT from a[192.0.2.1]: 554 5.7.1 <x@y>: Relay access denied; from=<s>"),
            (std::vector<uint64_t>{0, 1, 0, 0, 0}));
  EXPECT_EQ(Counts(set, "connect to mx.example.net[192.0.2.7]:25: Connection refused"),
            (std::vector<uint64_t>{0, 0, 1, 0, 0}));
  EXPECT_EQ(Counts(set, "Connection refused by connect to"), (std::vector<uint64_t>{0, 0, 0, 0, 0}));  // order counts
  EXPECT_EQ(Counts(set, "warning: TLS library problem: error:0A000126:SSL routines::unexpected eof"),
            (std::vector<uint64_t>{0, 0, 0, 1, 0}));
  EXPECT_EQ(Counts(set, "4B7F81234: signing table references unknown key 'mail'"),
            (std::vector<uint64_t>{0, 0, 0, 0, 1}));
  // Twice in one line counts once.
  EXPECT_EQ(Counts(set, "Relay access denied Relay access denied"), (std::vector<uint64_t>{0, 1, 0, 0, 0}));
}

// The prefilter finds exactly what the plain definition finds: random texts
// over a small alphabet (so that parts and anchors occur often, at every
// offset, across the 16-byte chunk edges and in the tail).
TEST(PatternSetTest, PrefilterAgreesWithThePlainSearch) {
  std::mt19937 rng(7);
  const std::string alphabet = "abRk ef:T";
  auto word = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int round = 0; round < 300; ++round) {
    std::vector<Pattern> ps;
    const size_t n = 1 + rng() % 12;  // up to 12: more than 8 distinct anchors takes the scalar path
    for (size_t i = 0; i < n; ++i) {
      Pattern p{"p" + std::to_string(i), {}};
      const size_t parts = 1 + rng() % 3;
      for (size_t k = 0; k < parts; ++k) p.parts.push_back(word(1 + rng() % 4));
      ps.push_back(p);
    }
    PatternSet set(ps);
    for (int t = 0; t < 50; ++t) {
      const std::string text = word(rng() % 70);
      const auto got = Counts(set, text);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], PatternSet::Matches(ps[i], text) ? 1u : 0u)
            << "pattern " << i << " text \"" << text << "\" round " << round;
      }
    }
  }
}

TEST(Fail2banLineTest, BansAndNotBans) {
  parse::Fail2banLine l;
  ASSERT_TRUE(parse::ParseFail2banLine(
      "2026-12-04 20:00:00,123 fail2ban.actions        [1234]: NOTICE  [postfix-sasl] Ban 203.0.113.5", &l));
  EXPECT_TRUE(l.ban);
  EXPECT_EQ(l.jail, "postfix-sasl");
  EXPECT_EQ(l.local_seconds, 1796414400);  // 2026-12-04 20:00:00 as if UTC
  ASSERT_TRUE(parse::ParseFail2banLine(
      "2026-12-04 20:00:00,123 fail2ban.actions        [1234]: NOTICE  [postfix-sasl] Restore Ban 203.0.113.5", &l));
  EXPECT_FALSE(l.ban);
  ASSERT_TRUE(parse::ParseFail2banLine(
      "2026-12-04 20:00:00,123 fail2ban.actions        [1234]: NOTICE  [dovecot] Unban 203.0.113.5", &l));
  EXPECT_FALSE(l.ban);
  ASSERT_TRUE(parse::ParseFail2banLine(
      "2026-12-04 20:00:00,123 fail2ban.filter         [1234]: INFO    [dovecot] Found 203.0.113.5 - 2026-12-04", &l));
  EXPECT_FALSE(l.ban);
  EXPECT_FALSE(parse::ParseFail2banLine("Traceback (most recent call last):", &l));
  EXPECT_FALSE(parse::ParseFail2banLine("2026-13-04 20:00:00,123 fail2ban.actions [1]: NOTICE [x] Ban 1.2.3.4", &l));
  EXPECT_FALSE(parse::ParseFail2banLine("", &l));
}

}  // namespace
}  // namespace mailstack::logs
