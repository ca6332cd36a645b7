#include "collectors/parse/spf.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailstack {
namespace {

using spf::Mechanism;
using spf::Qualifier;

std::vector<uint8_t> Ip(const char* text) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text, buf) == 1) return {buf, buf + 4};
  EXPECT_EQ(inet_pton(AF_INET6, text, buf), 1) << text;
  return {buf, buf + 16};
}

spf::Record MustParse(const std::string& txt) {
  auto r = spf::Parse(txt);
  EXPECT_TRUE(r.ok()) << txt << ": " << r.status().message();
  return r.ok() ? *r : spf::Record{};
}

TEST(SpfTest, IsSpfRecord) {
  EXPECT_TRUE(spf::IsSpfRecord("v=spf1"));
  EXPECT_TRUE(spf::IsSpfRecord("v=spf1 -all"));
  EXPECT_TRUE(spf::IsSpfRecord("V=SPF1 -all"));
  EXPECT_FALSE(spf::IsSpfRecord("v=spf10"));
  EXPECT_FALSE(spf::IsSpfRecord("v=spf1-all"));
  EXPECT_FALSE(spf::IsSpfRecord(" v=spf1 -all"));
  EXPECT_FALSE(spf::IsSpfRecord("v=spf"));
  EXPECT_FALSE(spf::IsSpfRecord(""));
  EXPECT_FALSE(spf::IsSpfRecord("v=DMARC1; p=none"));
  EXPECT_FALSE(spf::IsSpfRecord("spf2.0/pra -all"));
}

TEST(SpfTest, Google) {
  auto rec = MustParse("v=spf1 include:_spf.google.com ~all");
  ASSERT_EQ(rec.terms.size(), 2u);
  EXPECT_FALSE(rec.terms[0].is_modifier);
  EXPECT_EQ(rec.terms[0].mechanism, Mechanism::kInclude);
  EXPECT_EQ(rec.terms[0].qualifier, Qualifier::kPass);
  EXPECT_EQ(rec.terms[0].domain_spec, "_spf.google.com");
  EXPECT_FALSE(rec.terms[0].has_macros);
  EXPECT_EQ(rec.terms[0].text, "include:_spf.google.com");
  EXPECT_EQ(rec.terms[1].mechanism, Mechanism::kAll);
  EXPECT_EQ(rec.terms[1].qualifier, Qualifier::kSoftFail);
  EXPECT_EQ(rec.terms[1].text, "~all");
  EXPECT_TRUE(rec.has_all());
  EXPECT_EQ(rec.redirect(), nullptr);
}

TEST(SpfTest, Microsoft) {
  auto rec = MustParse(
      "v=spf1 include:_spf-a.microsoft.com include:_spf-b.microsoft.com include:_spf-c.microsoft.com "
      "include:_spf-ssg-a.msft.net include:spf-a.hotmail.com include:_spf1-meo.microsoft.com -all");
  ASSERT_EQ(rec.terms.size(), 7u);
  const char* includes[] = {"_spf-a.microsoft.com", "_spf-b.microsoft.com", "_spf-c.microsoft.com",
                            "_spf-ssg-a.msft.net",  "spf-a.hotmail.com",    "_spf1-meo.microsoft.com"};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(rec.terms[i].mechanism, Mechanism::kInclude);
    EXPECT_EQ(rec.terms[i].domain_spec, includes[i]);
  }
  EXPECT_EQ(rec.terms[6].qualifier, Qualifier::kFail);
  EXPECT_EQ(rec.terms[6].mechanism, Mechanism::kAll);
  // Microsoft 365 customers publish this one.
  rec = MustParse("v=spf1 include:spf.protection.outlook.com -all");
  ASSERT_EQ(rec.terms.size(), 2u);
  EXPECT_EQ(rec.terms[0].domain_spec, "spf.protection.outlook.com");
}

TEST(SpfTest, Ip4AndIp6Networks) {
  auto rec = MustParse(
      "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 +ip6:2001:db8::/32 ip6:2001:db8::cb01 "
      "ip4:0.0.0.0/0 ip6:::ffff:192.0.2.1/128 -all");
  ASSERT_EQ(rec.terms.size(), 7u);
  const auto& a = rec.terms[0];
  EXPECT_EQ(a.mechanism, Mechanism::kIp4);
  EXPECT_EQ(a.network, (std::vector<uint8_t>{192, 0, 2, 0}));
  EXPECT_EQ(a.ip4_cidr, 24);
  EXPECT_EQ(a.ip6_cidr, 128);
  EXPECT_TRUE(a.domain_spec.empty());
  EXPECT_EQ(rec.terms[1].network, (std::vector<uint8_t>{198, 51, 100, 7}));
  EXPECT_EQ(rec.terms[1].ip4_cidr, 32);
  const auto& c = rec.terms[2];
  EXPECT_EQ(c.mechanism, Mechanism::kIp6);
  EXPECT_EQ(c.qualifier, Qualifier::kPass);
  EXPECT_EQ(c.network, Ip("2001:db8::"));
  EXPECT_EQ(c.ip6_cidr, 32);
  EXPECT_EQ(rec.terms[3].network, Ip("2001:db8::cb01"));
  EXPECT_EQ(rec.terms[3].ip6_cidr, 128);
  EXPECT_EQ(rec.terms[4].network, (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(rec.terms[4].ip4_cidr, 0);
  EXPECT_EQ(rec.terms[5].network, Ip("::ffff:192.0.2.1"));
  EXPECT_EQ(rec.terms[5].network.size(), 16u);
  // The network is kept as written (host bits and all); InNetwork masks.
  rec = MustParse("v=spf1 ip4:192.0.2.77/24");
  EXPECT_EQ(rec.terms[0].network, (std::vector<uint8_t>{192, 0, 2, 77}));
  EXPECT_TRUE(spf::InNetwork(Ip("192.0.2.1"), rec.terms[0].network, rec.terms[0].ip4_cidr));
  EXPECT_FALSE(spf::InNetwork(Ip("192.0.3.1"), rec.terms[0].network, rec.terms[0].ip4_cidr));
}

TEST(SpfTest, AMxPtrWithDualCidr) {
  auto rec = MustParse(
      "v=spf1 a a/24//64 a//48 mx:example.com/24 mx:mail.example.com//64 "
      "a:%{d}/28 ?ptr ptr:example.org -mx ~a:example.net/0//0 -all");
  ASSERT_EQ(rec.terms.size(), 11u);
  struct Want {
    Mechanism m;
    Qualifier q;
    const char* spec;
    int ip4, ip6;
  } want[] = {
      {Mechanism::kA, Qualifier::kPass, "", 32, 128},
      {Mechanism::kA, Qualifier::kPass, "", 24, 64},
      {Mechanism::kA, Qualifier::kPass, "", 32, 48},
      {Mechanism::kMx, Qualifier::kPass, "example.com", 24, 128},
      {Mechanism::kMx, Qualifier::kPass, "mail.example.com", 32, 64},
      {Mechanism::kA, Qualifier::kPass, "%{d}", 28, 128},
      {Mechanism::kPtr, Qualifier::kNeutral, "", 32, 128},
      {Mechanism::kPtr, Qualifier::kPass, "example.org", 32, 128},
      {Mechanism::kMx, Qualifier::kFail, "", 32, 128},
      {Mechanism::kA, Qualifier::kSoftFail, "example.net", 0, 0},
      {Mechanism::kAll, Qualifier::kFail, "", 32, 128},
  };
  for (size_t i = 0; i < rec.terms.size(); ++i) {
    const auto& t = rec.terms[i];
    EXPECT_FALSE(t.is_modifier) << i;
    EXPECT_EQ(t.mechanism, want[i].m) << i;
    EXPECT_EQ(t.qualifier, want[i].q) << i;
    EXPECT_EQ(t.domain_spec, want[i].spec) << i;
    EXPECT_EQ(t.ip4_cidr, want[i].ip4) << i;
    EXPECT_EQ(t.ip6_cidr, want[i].ip6) << i;
    EXPECT_TRUE(t.network.empty()) << i;
  }
  EXPECT_TRUE(rec.terms[5].has_macros);
  EXPECT_EQ(rec.terms[1].text, "a/24//64");
}

TEST(SpfTest, RedirectAndExp) {
  auto rec = MustParse("v=spf1 redirect=_spf.example.com");
  ASSERT_EQ(rec.terms.size(), 1u);
  ASSERT_NE(rec.redirect(), nullptr);
  EXPECT_TRUE(rec.redirect()->is_modifier);
  EXPECT_EQ(rec.redirect()->modifier_name, "redirect");
  EXPECT_EQ(rec.redirect()->domain_spec, "_spf.example.com");
  EXPECT_FALSE(rec.has_all());

  rec = MustParse("v=spf1 mx -all exp=explain._spf.%{d}");
  ASSERT_EQ(rec.terms.size(), 3u);
  EXPECT_TRUE(rec.terms[2].is_modifier);
  EXPECT_EQ(rec.terms[2].modifier_name, "exp");
  EXPECT_EQ(rec.terms[2].domain_spec, "explain._spf.%{d}");
  EXPECT_TRUE(rec.terms[2].has_macros);
  EXPECT_EQ(rec.redirect(), nullptr);

  // redirect and all together: the parser reports both; check_host ignores redirect (RFC 7208 6.1).
  rec = MustParse("v=spf1 -all redirect=other.example");
  EXPECT_TRUE(rec.has_all());
  ASSERT_NE(rec.redirect(), nullptr);
  EXPECT_EQ(rec.redirect()->domain_spec, "other.example");
}

TEST(SpfTest, NamesAreCaseInsensitive) {
  auto rec = MustParse(
      "V=SPF1 IP4:192.0.2.1 Include:Example.COM MX:mail.example.com/24 -ALL "
      "REDIRECT=Other.Example EXP=Why.Example");
  ASSERT_EQ(rec.terms.size(), 6u);
  EXPECT_EQ(rec.terms[0].mechanism, Mechanism::kIp4);
  EXPECT_EQ(rec.terms[1].mechanism, Mechanism::kInclude);
  EXPECT_EQ(rec.terms[1].domain_spec, "Example.COM");  // as written
  EXPECT_EQ(rec.terms[2].mechanism, Mechanism::kMx);
  EXPECT_EQ(rec.terms[2].ip4_cidr, 24);
  EXPECT_EQ(rec.terms[3].mechanism, Mechanism::kAll);
  EXPECT_EQ(rec.terms[4].modifier_name, "redirect");
  EXPECT_EQ(rec.terms[5].modifier_name, "exp");
  ASSERT_NE(rec.redirect(), nullptr);
  EXPECT_EQ(rec.redirect()->domain_spec, "Other.Example");
}

TEST(SpfTest, UnknownModifiersAreKeptAndIgnored) {
  // RFC 7208 6: unknown modifiers MUST be ignored, wherever and however often they appear.
  auto rec = MustParse("v=spf1 -all foo=bar moo.cow-far_out=man:dog/cat foo=%{c}%% empty=");
  ASSERT_EQ(rec.terms.size(), 5u);
  EXPECT_TRUE(rec.terms[1].is_modifier);
  EXPECT_EQ(rec.terms[1].modifier_name, "foo");
  EXPECT_EQ(rec.terms[1].domain_spec, "bar");
  EXPECT_EQ(rec.terms[2].modifier_name, "moo.cow-far_out");
  EXPECT_EQ(rec.terms[2].domain_spec, "man:dog/cat");
  EXPECT_FALSE(rec.terms[2].has_macros);
  EXPECT_TRUE(rec.terms[3].has_macros);
  EXPECT_EQ(rec.terms[4].modifier_name, "empty");
  EXPECT_EQ(rec.terms[4].domain_spec, "");
  EXPECT_EQ(rec.redirect(), nullptr);
  // By the ABNF a mechanism name followed by '=' is an unknown modifier, not an error (a typo a linter
  // may want to flag; the record then has no include at all).
  rec = MustParse("v=spf1 include=_spf.google.com ~all");
  ASSERT_EQ(rec.terms.size(), 2u);
  EXPECT_TRUE(rec.terms[0].is_modifier);
  EXPECT_EQ(rec.terms[0].modifier_name, "include");
  EXPECT_EQ(rec.terms[0].domain_spec, "_spf.google.com");
}

TEST(SpfTest, MacrosInDomainSpecs) {
  auto rec = MustParse(
      "v=spf1 exists:%{i}._spf.%{d} exists:%{ir}.%{v}._spf.%{d2} include:%{l1r-}.%{o} "
      "a:%{H} exists:%{S}.x.example a:foo%-bar.example.com -all");
  ASSERT_EQ(rec.terms.size(), 7u);
  EXPECT_EQ(rec.terms[0].mechanism, Mechanism::kExists);
  EXPECT_EQ(rec.terms[0].domain_spec, "%{i}._spf.%{d}");
  for (size_t i = 0; i < 6; ++i) EXPECT_TRUE(rec.terms[i].has_macros) << i;
  EXPECT_EQ(rec.terms[1].domain_spec, "%{ir}.%{v}._spf.%{d2}");
  EXPECT_EQ(rec.terms[2].domain_spec, "%{l1r-}.%{o}");
  EXPECT_FALSE(rec.terms[6].has_macros);
}

TEST(SpfTest, SpacesAndEmptyRecord) {
  EXPECT_TRUE(MustParse("v=spf1").terms.empty());
  EXPECT_TRUE(MustParse("v=spf1 ").terms.empty());
  auto rec = MustParse("v=spf1   a    -all   ");
  ASSERT_EQ(rec.terms.size(), 2u);
  EXPECT_EQ(rec.terms[0].text, "a");
  EXPECT_EQ(rec.terms[1].text, "-all");
  // Mechanisms after "all" are legal (and never reached).
  EXPECT_EQ(MustParse("v=spf1 -all a mx").terms.size(), 3u);
}

TEST(SpfTest, DomainSpecShapes) {
  for (const char* ok :
       {"v=spf1 a:example.com.", "v=spf1 a:xn--p1ai.xn--p1ai", "v=spf1 a:mail.123-45",
        "v=spf1 include:_spf.example.com", "v=spf1 a:%{d}", "v=spf1 exists:%{d}.%%", "v=spf1 a:x.%{d}.example.c0m"}) {
    EXPECT_TRUE(spf::Parse(ok).ok()) << ok << ": " << spf::Parse(ok).status().message();
  }
  const std::string label63(63, 'a');
  EXPECT_TRUE(spf::Parse("v=spf1 a:" + label63 + ".com").ok());
  EXPECT_FALSE(spf::Parse("v=spf1 a:" + label63 + "a.com").ok());
  // 253 bytes is the longest name.
  std::string name = label63 + "." + label63 + "." + label63 + "." + std::string(57, 'b') + ".com";
  ASSERT_EQ(name.size(), 253u);
  EXPECT_TRUE(spf::Parse("v=spf1 a:" + name).ok());
  EXPECT_FALSE(spf::Parse("v=spf1 a:" + name + ".").ok());  // the trailing dot counts
  EXPECT_EQ(spf::Parse("v=spf1 a:b." + name).status().message().substr(0, 30), "SPF: bad domain-spec in \"a:b.a");
}

struct BadCase {
  const char* record;
  const char* message;
};

TEST(SpfTest, Errors) {
  const BadCase cases[] = {
      {"v=spf1 foo", "SPF: unknown mechanism in \"foo\""},
      {"v=spf1 ip4:1.2.3.4/33", "SPF: bad ip4 cidr length in \"ip4:1.2.3.4/33\""},
      {"v=spf1 include", "SPF: missing domain-spec in \"include\""},
      {"v=spf1 include:", "SPF: missing domain-spec in \"include:\""},
      {"v=spf1 exists", "SPF: missing domain-spec in \"exists\""},
      {"v=spf1 redirect=", "SPF: missing domain-spec in \"redirect=\""},
      {"v=spf1 redirect=a.com redirect=b.com", "SPF: redirect repeated in \"redirect=b.com\""},
      {"v=spf1 exp=a.com -all exp=b.com", "SPF: exp repeated in \"exp=b.com\""},
      {"v=spf10", "SPF: not a v=spf1 record in \"v=spf10\""},
      {"v=spf1-all", "SPF: not a v=spf1 record in \"v=spf1-all\""},
      {"", "SPF: not a v=spf1 record in \"\""},
      {"v=spf1 ip4", "SPF: missing ip4 network in \"ip4\""},
      {"v=spf1 ip4:", "SPF: missing ip4 network in \"ip4:\""},
      {"v=spf1 ip4:1.2.3", "SPF: bad ip4 network in \"ip4:1.2.3\""},
      {"v=spf1 ip4:1.2.3.4.5", "SPF: bad ip4 network in \"ip4:1.2.3.4.5\""},
      {"v=spf1 ip4:256.1.1.1", "SPF: bad ip4 network in \"ip4:256.1.1.1\""},
      {"v=spf1 ip4:01.2.3.4", "SPF: bad ip4 network in \"ip4:01.2.3.4\""},
      {"v=spf1 ip4:example.com", "SPF: bad ip4 network in \"ip4:example.com\""},
      {"v=spf1 ip4:1.2.3.4/", "SPF: bad ip4 cidr length in \"ip4:1.2.3.4/\""},
      {"v=spf1 ip4:1.2.3.4/024", "SPF: bad ip4 cidr length in \"ip4:1.2.3.4/024\""},
      {"v=spf1 ip4:1.2.3.4/-1", "SPF: bad ip4 cidr length in \"ip4:1.2.3.4/-1\""},
      {"v=spf1 ip4:1.2.3.4//64", "SPF: bad ip4 cidr length in \"ip4:1.2.3.4//64\""},
      {"v=spf1 ip6", "SPF: missing ip6 network in \"ip6\""},
      {"v=spf1 ip6:2001:db8::/129", "SPF: bad ip6 cidr length in \"ip6:2001:db8::/129\""},
      {"v=spf1 ip6:2001:db8:::1", "SPF: bad ip6 network in \"ip6:2001:db8:::1\""},
      {"v=spf1 ip6:1.2.3.4", "SPF: bad ip6 network in \"ip6:1.2.3.4\""},
      {"v=spf1 ip6:fe80::1%eth0", "SPF: bad ip6 network in \"ip6:fe80::1%eth0\""},
      {"v=spf1 a/33", "SPF: bad ip4 cidr length in \"a/33\""},
      {"v=spf1 a//129", "SPF: bad ip6 cidr length in \"a//129\""},
      {"v=spf1 mx/024", "SPF: bad ip4 cidr length in \"mx/024\""},
      {"v=spf1 mx:example.com/24/64", "SPF: bad ip4 cidr length in \"mx:example.com/24/64\""},
      {"v=spf1 a/x", "SPF: bad dual-cidr-length in \"a/x\""},
      {"v=spf1 a/", "SPF: bad dual-cidr-length in \"a/\""},
      {"v=spf1 a:", "SPF: missing domain-spec in \"a:\""},
      {"v=spf1 a:/24", "SPF: missing domain-spec in \"a:/24\""},
      {"v=spf1 a:com", "SPF: bad domain-spec in \"a:com\""},
      {"v=spf1 a:1.2.3.4", "SPF: bad domain-spec in \"a:1.2.3.4\""},
      {"v=spf1 a:example.-com", "SPF: bad domain-spec in \"a:example.-com\""},
      {"v=spf1 a:example.com-", "SPF: bad domain-spec in \"a:example.com-\""},
      {"v=spf1 a:foo..example.com", "SPF: bad domain-spec in \"a:foo..example.com\""},
      {"v=spf1 a:.com", "SPF: bad domain-spec in \"a:.com\""},
      {"v=spf1 a:example.com..", "SPF: bad domain-spec in \"a:example.com..\""},
      {"v=spf1 include:example.com/24", "SPF: bad domain-spec in \"include:example.com/24\""},
      {"v=spf1 exists:%{d}.example-", "SPF: bad domain-spec in \"exists:%{d}.example-\""},
      {"v=spf1 exists:%{x}.example.com", "SPF: bad macro in \"exists:%{x}.example.com\""},
      {"v=spf1 exists:%{d0}.example.com", "SPF: bad macro in \"exists:%{d0}.example.com\""},
      {"v=spf1 exists:%{d", "SPF: bad macro in \"exists:%{d\""},
      {"v=spf1 exists:%{d2rr}.example.com", "SPF: bad macro in \"exists:%{d2rr}.example.com\""},
      {"v=spf1 exists:%{d.1}.example.com", "SPF: bad macro in \"exists:%{d.1}.example.com\""},
      {"v=spf1 exists:%{c}.example.com", "SPF: bad macro in \"exists:%{c}.example.com\""},
      {"v=spf1 exp=%{r}.example.com", "SPF: bad macro in \"exp=%{r}.example.com\""},
      {"v=spf1 a:foo%bar.com", "SPF: bad macro in \"a:foo%bar.com\""},
      {"v=spf1 a:example.com%", "SPF: bad macro in \"a:example.com%\""},
      {"v=spf1 foo=%abc", "SPF: bad macro in \"foo=%abc\""},
      {"v=spf1 ++all", "SPF: bad qualifier in \"++all\""},
      {"v=spf1 -", "SPF: bad qualifier in \"-\""},
      {"v=spf1 -redirect=a.com", "SPF: qualifier on a modifier in \"-redirect=a.com\""},
      {"v=spf1 all:foo", "SPF: unexpected argument in \"all:foo\""},
      {"v=spf1 all/8", "SPF: unexpected argument in \"all/8\""},
      {"v=spf1 ptr/24", "SPF: unexpected argument in \"ptr/24\""},
      {"v=spf1 1foo=bar", "SPF: unknown mechanism in \"1foo=bar\""},
      {"v=spf1 !all", "SPF: unknown mechanism in \"!all\""},
      {"v=spf1 -all\tfoo", "SPF: unknown mechanism in \"-all?foo\""},
      {"v=spf1 a:exa\x01mple.com", "SPF: bad character in \"a:exa?mple.com\""},
  };
  for (const auto& c : cases) {
    auto r = spf::Parse(c.record);
    ASSERT_FALSE(r.ok()) << c.record;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << c.record;
    EXPECT_EQ(r.status().message(), c.message) << c.record;
  }
}

TEST(SpfTest, LongTermsAreCutInMessages) {
  std::string term = "x" + std::string(200, 'y');
  auto r = spf::Parse("v=spf1 " + term);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "SPF: unknown mechanism in \"x" + std::string(79, 'y') + "...\"");
}

// RFC 7208 7.4: <sender> strong-bad@email.example.com, IPv4 192.0.2.3, IPv6 2001:db8::cb01.
spf::MacroContext Rfc7208Context(const char* ip = "192.0.2.3") {
  spf::MacroContext ctx;
  ctx.sender = "strong-bad@email.example.com";
  ctx.domain = "email.example.com";
  ctx.ip = Ip(ip);
  ctx.helo = "mx.example.org";
  return ctx;
}

std::string Expand(std::string_view spec, const spf::MacroContext& ctx) {
  auto r = spf::ExpandMacros(spec, ctx);
  EXPECT_TRUE(r.ok()) << spec << ": " << r.status().message();
  return r.ok() ? *r : "<error>";
}

TEST(SpfMacroTest, Rfc7208Examples) {
  auto ctx = Rfc7208Context();
  const std::pair<const char*, const char*> cases[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
  };
  for (const auto& [spec, want] : cases) EXPECT_EQ(Expand(spec, ctx), want) << spec;
}

TEST(SpfMacroTest, Rfc7208Ipv6Example) {
  auto ctx = Rfc7208Context("2001:db8::cb01");
  EXPECT_EQ(Expand("%{ir}.%{v}._spf.%{d2}", ctx),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
  EXPECT_EQ(Expand("%{i}", ctx), "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1");
  EXPECT_EQ(Expand("%{v}", ctx), "ip6");
  EXPECT_EQ(Expand("%{i}._spf.%{d}", ctx),
            "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1._spf.email.example.com");
}

TEST(SpfMacroTest, OtherLettersAndEscapes) {
  auto ctx = Rfc7208Context();
  EXPECT_EQ(Expand("%{i}._spf.%{d}", ctx), "192.0.2.3._spf.email.example.com");
  EXPECT_EQ(Expand("%{v}", ctx), "in-addr");
  EXPECT_EQ(Expand("%{h}", ctx), "mx.example.org");
  EXPECT_EQ(Expand("%{h2}", ctx), "example.org");
  EXPECT_EQ(Expand("%{p}", ctx), "unknown");
  ctx.validated_domain = "mx.example.org";  // found by the caller (RFC 7208 7.3)
  EXPECT_EQ(Expand("%{p}.%{p1}", ctx), "mx.example.org.org");
  ctx.validated_domain.clear();
  EXPECT_EQ(Expand("a%%b%_c%-d", ctx), "a%b c%20d");
  EXPECT_EQ(Expand("_spf.example.com", ctx), "_spf.example.com");
  EXPECT_EQ(Expand("", ctx), "");
  // Upper-case letters expand the same and are then URL-escaped (RFC 7208 7.3).
  EXPECT_EQ(Expand("%{S}", ctx), "strong-bad%40email.example.com");
  EXPECT_EQ(Expand("%{L}", ctx), "strong-bad");
  EXPECT_EQ(Expand("%{D2R}", ctx), "example.email");
  // More parts asked for than exist: all; a huge count saturates instead of overflowing.
  EXPECT_EQ(Expand("%{d99}", ctx), "email.example.com");
  EXPECT_EQ(Expand("%{d99999999999999999999999}", ctx), "email.example.com");
  EXPECT_EQ(Expand("%{d02}", ctx), "example.com");
  // Several delimiters; every delimiter splits (empty parts kept).
  ctx.sender = "a+b-c@example.net";
  EXPECT_EQ(Expand("%{l+-}", ctx), "a.b.c");
  EXPECT_EQ(Expand("%{lr+-}", ctx), "c.b.a");
  EXPECT_EQ(Expand("%{l2r+-}", ctx), "b.a");
  ctx.sender = "a--b@example.net";
  EXPECT_EQ(Expand("%{l-}", ctx), "a..b");
  EXPECT_EQ(Expand("%{o}", ctx), "example.net");
}

TEST(SpfMacroTest, SenderWithoutLocalPartIsPostmaster) {
  auto ctx = Rfc7208Context();
  ctx.sender = "email.example.com";
  EXPECT_EQ(Expand("%{l}", ctx), "postmaster");
  EXPECT_EQ(Expand("%{s}", ctx), "postmaster@email.example.com");
  EXPECT_EQ(Expand("%{o}", ctx), "email.example.com");
  ctx.sender = "@email.example.com";
  EXPECT_EQ(Expand("%{s}", ctx), "postmaster@email.example.com");
}

TEST(SpfMacroTest, TruncatesTo253BytesByDroppingLeftLabels) {
  auto ctx = Rfc7208Context();
  const std::string l60(60, 'x');
  ctx.domain = l60 + ".a" + l60 + ".b" + l60 + ".c" + l60 + ".d" + l60;  // 5 labels, 308 bytes
  // Dropping the first label leaves 247 bytes.
  EXPECT_EQ(Expand("%{d}", ctx), "a" + l60 + ".b" + l60 + ".c" + l60 + ".d" + l60);
  // With a suffix two labels go.
  EXPECT_EQ(Expand("%{d}.example.com", ctx), "b" + l60 + ".c" + l60 + ".d" + l60 + ".example.com");
  // Exactly 253 bytes stays.
  ctx.domain =
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd');
  ASSERT_EQ(ctx.domain.size(), 253u);
  EXPECT_EQ(Expand("%{d}", ctx), ctx.domain);
  EXPECT_EQ(Expand("x.%{d}", ctx), ctx.domain);  // 255 bytes: dropping "x." is enough
  EXPECT_EQ(Expand("%{d}.x", ctx),
            std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd') + ".x");
}

TEST(SpfMacroTest, Errors) {
  auto ctx = Rfc7208Context();
  const BadCase cases[] = {
      {"%{d0}", "SPF: bad macro in \"%{d0}\""},
      {"%{c}", "SPF: bad macro in \"%{c}\""},
      {"%{r}.example.com", "SPF: bad macro in \"%{r}.example.com\""},
      {"%{t}", "SPF: bad macro in \"%{t}\""},
      {"%{x}", "SPF: bad macro in \"%{x}\""},
      {"%{d", "SPF: bad macro in \"%{d\""},
      {"%{", "SPF: bad macro in \"%{\""},
      {"%", "SPF: bad macro in \"%\""},
      {"%x", "SPF: bad macro in \"%x\""},
      {"a b", "SPF: bad character in \"a b\""},
  };
  for (const auto& c : cases) {
    auto r = spf::ExpandMacros(c.record, ctx);
    ASSERT_FALSE(r.ok()) << c.record;
    EXPECT_EQ(r.status().message(), c.message) << c.record;
  }
  ctx.ip = {1, 2, 3};
  EXPECT_EQ(spf::ExpandMacros("%{i}", ctx).status().message(), "SPF: IP address is not 4 or 16 bytes in \"%{i}\"");
  EXPECT_EQ(Expand("%{d}", ctx), "email.example.com");  // the IP is only needed for i and v
  ctx.domain = std::string(300, 'x');
  EXPECT_EQ(spf::ExpandMacros("%{d}", ctx).status().message(),
            "SPF: expansion has no label boundary within 253 bytes in \"%{d}\"");
}

TEST(SpfMacroTest, BoundedOnHugeInput) {
  auto ctx = Rfc7208Context("2001:db8::cb01");
  std::string spec;
  while (spec.size() < 65536) spec += "%{ir}.";
  spec += "%{d}";
  auto r = spf::ExpandMacros(spec, ctx);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_LE(r->size(), 253u);
  EXPECT_EQ(r->substr(r->size() - 18), ".email.example.com");
  auto rec = spf::Parse("v=spf1 exists:" + spec);
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  std::string many = "v=spf1";
  while (many.size() < 65536) many += " a:x.example.com/24 ip6:2001:db8::/32";
  auto parsed = spf::Parse(many);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_GT(parsed->terms.size(), 3000u);
}

TEST(SpfTest, InNetwork) {
  const auto net4 = Ip("192.0.2.0");
  EXPECT_TRUE(spf::InNetwork(Ip("192.0.2.3"), net4, 24));
  EXPECT_TRUE(spf::InNetwork(Ip("192.0.2.255"), net4, 24));
  EXPECT_FALSE(spf::InNetwork(Ip("192.0.3.0"), net4, 24));
  EXPECT_TRUE(spf::InNetwork(Ip("192.0.3.1"), net4, 23));
  EXPECT_FALSE(spf::InNetwork(Ip("192.0.2.200"), net4, 25));
  EXPECT_TRUE(spf::InNetwork(Ip("192.0.2.127"), net4, 25));
  EXPECT_FALSE(spf::InNetwork(Ip("192.0.2.3"), net4, 32));
  EXPECT_TRUE(spf::InNetwork(Ip("192.0.2.0"), net4, 32));
  EXPECT_TRUE(spf::InNetwork(Ip("203.0.113.9"), net4, 0));
  EXPECT_FALSE(spf::InNetwork(Ip("192.0.2.3"), net4, 33));
  EXPECT_FALSE(spf::InNetwork(Ip("192.0.2.3"), net4, -1));
  // Families never mix; an IPv4-mapped address is not IPv4 here.
  EXPECT_FALSE(spf::InNetwork(Ip("::ffff:192.0.2.3"), net4, 24));
  EXPECT_FALSE(spf::InNetwork(Ip("192.0.2.3"), Ip("::ffff:192.0.2.0"), 120));
  EXPECT_FALSE(spf::InNetwork(Ip("192.0.2.3"), Ip("::"), 0));
  EXPECT_TRUE(spf::InNetwork(Ip("::ffff:192.0.2.3"), Ip("::ffff:192.0.2.0"), 120));
  const auto net6 = Ip("2001:db8::");
  EXPECT_TRUE(spf::InNetwork(Ip("2001:db8::cb01"), net6, 32));
  EXPECT_FALSE(spf::InNetwork(Ip("2001:db9::cb01"), net6, 32));
  EXPECT_TRUE(spf::InNetwork(Ip("2001:db9::1"), net6, 31));
  EXPECT_TRUE(spf::InNetwork(Ip("2001:db8::cb01"), Ip("2001:db8::cb01"), 128));
  EXPECT_FALSE(spf::InNetwork(Ip("2001:db8::cb00"), Ip("2001:db8::cb01"), 128));
  EXPECT_TRUE(spf::InNetwork(Ip("2001:db8::cb00"), Ip("2001:db8::cb01"), 127));
  EXPECT_TRUE(spf::InNetwork(Ip("::1"), Ip("ffff::"), 0));
  EXPECT_FALSE(spf::InNetwork(Ip("::1"), Ip("::1"), 129));
  // Malformed sizes.
  EXPECT_FALSE(spf::InNetwork({1, 2, 3}, {1, 2, 3}, 8));
  EXPECT_FALSE(spf::InNetwork({}, {}, 0));
}

}  // namespace
}  // namespace mailstack
