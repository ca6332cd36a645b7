// The SPF evaluator against an in-memory zone: the include/redirect trees of
// tests/integration/test_dns.py (there against nsd, values worked out by hand
// from RFC 7208 in its zone comments) and DNS failures. The RFC 7208
// conformance suite runs in spf_rfc7208_test.cc.
#include "collectors/dns/spf_evaluator.h"

#include <gtest/gtest.h>

#include "collectors/dns/dns_options.h"
#include "tests/collectors/dns/fake_dns.h"

namespace mailstack::dns {
namespace {

using testing::FakeDns;

// check_host() for `ip` ("" for count mode) and `domain`, run to the end.
SpfVerdict Evaluate(FakeDns& zone, const std::string& domain, const std::string& ip) {
  std::vector<uint8_t> bytes;
  if (!ip.empty()) {
    EXPECT_TRUE(ParseIp(ip, &bytes)) << ip;
  }
  SpfVerdict out;
  int calls = 0;
  EvaluateSpf(zone, SpfCheck{bytes, domain, "postmaster@" + domain, "mail." + domain}, [&](const SpfVerdict& v) {
    out = v;
    ++calls;
  });
  zone.Run();
  EXPECT_EQ(calls, 1) << domain << " " << ip;
  return out;
}

// chain.test of test_dns.py: 7 DNS-querying terms, 1 void lookup, and its
// address authorized two includes deep.
FakeDns ChainZone() {
  FakeDns z;
  z.AddA("chain.test", "127.0.0.52");
  z.AddMx("chain.test", 10, "mail.chain.test.");
  z.AddMx("chain.test", 20, "mx2.chain.test.");
  z.AddA("mail.chain.test", "127.0.0.4");
  z.AddA("mx2.chain.test", "127.0.0.51");
  z.AddA("relay.chain.test", "127.0.0.50");
  z.AddTxt("chain.test", "v=spf1 include:_spf1.chain.test mx a exists:void.chain.test redirect=_spf3.chain.test");
  z.AddTxt("_spf1.chain.test", "v=spf1 include:_spf2.chain.test -all");
  z.AddTxt("_spf2.chain.test", "v=spf1 a:relay.chain.test ip4:127.0.0.4 -all");
  z.AddTxt("_spf3.chain.test", "v=spf1 ip4:203.0.113.0/24 -all");
  return z;
}

TEST(SpfEvaluatorTest, ChainCountsEveryTermOfTheTree) {
  FakeDns z = ChainZone();
  SpfVerdict count = Evaluate(z, "chain.test", "");
  EXPECT_EQ(count.result, SpfResult::kFail);  // _spf3's -all, reached by the redirect
  EXPECT_EQ(count.lookups, 7);
  EXPECT_EQ(count.voids, 1);  // exists:void.chain.test
  EXPECT_EQ(count.error, "");
}

TEST(SpfEvaluatorTest, ChainAuthorizesTwoIncludesDeep) {
  FakeDns z = ChainZone();
  EXPECT_EQ(Evaluate(z, "chain.test", "127.0.0.4").result, SpfResult::kPass);
  // pyspf 2.0.14 against nsd for an address nothing matches: fail, 7 lookups, 1 void.
  FakeDns z2 = ChainZone();
  SpfVerdict other = Evaluate(z2, "chain.test", "192.0.2.1");
  EXPECT_EQ(other.result, SpfResult::kFail);
  EXPECT_EQ(other.lookups, 7);
  EXPECT_EQ(other.voids, 1);
}

// overlimit.test: the 11th DNS-querying term is a permerror; the ip4 after it is never reached.
TEST(SpfEvaluatorTest, EleventhLookupIsAPermError) {
  FakeDns z;
  for (int i = 1; i <= 7; ++i) z.AddA("h" + std::to_string(i) + ".overlimit.test", "127.0.0.60");
  z.AddTxt("overlimit.test",
           "v=spf1 include:_spf.overlimit.test a:h1.overlimit.test a:h2.overlimit.test a:h3.overlimit.test "
           "a:h4.overlimit.test a:h5.overlimit.test a:h6.overlimit.test a:h7.overlimit.test ip4:127.0.0.5 -all");
  z.AddTxt("_spf.overlimit.test",
           "v=spf1 a:h1.overlimit.test a:h2.overlimit.test a:h3.overlimit.test a:h4.overlimit.test -all");
  for (const std::string ip : {"", "127.0.0.5"}) {
    SpfVerdict v = Evaluate(z, "overlimit.test", ip);
    EXPECT_EQ(v.result, SpfResult::kPermError) << ip;
    EXPECT_EQ(v.lookups, 11) << ip;
    EXPECT_EQ(v.voids, 0) << ip;
    EXPECT_EQ(v.error, "more than 10 DNS lookups (at \"a:h6.overlimit.test\")") << ip;
  }
}

// loop.test includes itself: the 11th round is over the limit, never a hang.
TEST(SpfEvaluatorTest, IncludeLoopEndsAtTheLimit) {
  FakeDns z;
  z.AddTxt("loop.test", "v=spf1 include:loop.test -all");
  SpfVerdict v = Evaluate(z, "loop.test", "");
  EXPECT_EQ(v.result, SpfResult::kPermError);
  EXPECT_EQ(v.lookups, 11);
  EXPECT_EQ(v.voids, 0);
}

// void.test: NXDOMAIN, NOERROR without MX, NXDOMAIN: the third void lookup is a permerror.
TEST(SpfEvaluatorTest, ThirdVoidLookupIsAPermError) {
  FakeDns z;
  z.AddTxt("nodata.void.test", "this name exists but has no A and no MX");
  z.AddTxt("void.test",
           "v=spf1 a:nx1.void.test mx:nodata.void.test exists:nx2.void.test a:nx3.void.test ip4:127.0.0.6 -all");
  for (const std::string ip : {"", "127.0.0.6"}) {
    SpfVerdict v = Evaluate(z, "void.test", ip);
    EXPECT_EQ(v.result, SpfResult::kPermError) << ip;
    EXPECT_EQ(v.lookups, 3) << ip;
    EXPECT_EQ(v.voids, 3) << ip;
    EXPECT_EQ(v.error, "more than 2 void lookups (at \"exists:nx2.void.test\")") << ip;
  }
}

// broken.test: a record that does not parse is a permerror before any term is evaluated.
TEST(SpfEvaluatorTest, SyntaxErrorIsAPermError) {
  FakeDns z;
  z.AddTxt("broken.test", "v=spf1 ip4:127.0.0.256 +foo ~al");
  SpfVerdict v = Evaluate(z, "broken.test", "127.0.0.2");
  EXPECT_EQ(v.result, SpfResult::kPermError);
  EXPECT_EQ(v.lookups, 0);
  EXPECT_EQ(v.error.rfind("broken.test: SPF: ", 0), 0u) << v.error;
}

// v6.test: ip4 and ip6 networks, no DNS-querying term.
TEST(SpfEvaluatorTest, Ip4AndIp6Networks) {
  FakeDns z;
  z.AddTxt("v6.test", "v=spf1 ip4:127.0.0.3 ip6:2001:db8::/64 -all");
  EXPECT_EQ(Evaluate(z, "v6.test", "127.0.0.3").result, SpfResult::kPass);
  EXPECT_EQ(Evaluate(z, "v6.test", "2001:db8::25").result, SpfResult::kPass);
  EXPECT_EQ(Evaluate(z, "v6.test", "2001:db8:1::25").result, SpfResult::kFail);
  EXPECT_EQ(Evaluate(z, "v6.test", "::ffff:127.0.0.3").result, SpfResult::kPass);  // IPv4-mapped: IPv4 (RFC 7208 5)
  SpfVerdict count = Evaluate(z, "v6.test", "");
  EXPECT_EQ(count.result, SpfResult::kFail);
  EXPECT_EQ(count.lookups, 0);
  EXPECT_EQ(count.voids, 0);
}

TEST(SpfEvaluatorTest, NoRecordIsNoneAndTwoArePermError) {
  FakeDns z;
  z.AddTxt("two.test", "v=spf1 -all");
  z.AddTxt("two.test", "v=spf1 +all");
  z.AddTxt("other.test", "google-site-verification=1");
  EXPECT_EQ(Evaluate(z, "missing.test", "192.0.2.1").result, SpfResult::kNone);
  EXPECT_EQ(Evaluate(z, "other.test", "192.0.2.1").result, SpfResult::kNone);
  SpfVerdict two = Evaluate(z, "two.test", "192.0.2.1");
  EXPECT_EQ(two.result, SpfResult::kPermError);
  EXPECT_EQ(two.error, "2 SPF records for two.test (must be one)");
}

// A lookup without an answer is a temperror, at the top and inside an include;
// an include of a domain without SPF is a permerror.
TEST(SpfEvaluatorTest, FailedLookupsAreTempErrors) {
  FakeDns z;
  z.AddTimeout("slow.test", net::DnsType::kTxt);
  z.AddTxt("inc.test", "v=spf1 include:slow.test -all");
  z.AddTxt("a.test", "v=spf1 a:slow.test -all");
  z.AddTxt("norec.test", "v=spf1 include:missing.test -all");
  SpfVerdict top = Evaluate(z, "slow.test", "192.0.2.1");
  EXPECT_EQ(top.result, SpfResult::kTempError);
  EXPECT_EQ(top.error, "TXT slow.test: timed out");
  EXPECT_EQ(Evaluate(z, "inc.test", "192.0.2.1").result, SpfResult::kTempError);
  z.AddTimeout("slow.test", net::DnsType::kA);
  EXPECT_EQ(Evaluate(z, "a.test", "192.0.2.1").result, SpfResult::kTempError);
  SpfVerdict norec = Evaluate(z, "norec.test", "192.0.2.1");
  EXPECT_EQ(norec.result, SpfResult::kPermError);
  EXPECT_EQ(norec.error, "\"include:missing.test\" names a domain without an SPF record");
}

// mx and ptr: every host's address lookup in flight at once; ptr names must
// be in the target domain and resolve back; a null MX names no host.
TEST(SpfEvaluatorTest, MxAndPtr) {
  FakeDns z;
  z.AddTxt("mx.test", "v=spf1 mx -all");
  z.AddMx("mx.test", 10, "a.mx.test");
  z.AddMx("mx.test", 20, "b.mx.test");
  z.AddA("a.mx.test", "192.0.2.10");
  z.AddA("b.mx.test", "192.0.2.20");
  EXPECT_EQ(Evaluate(z, "mx.test", "192.0.2.20").result, SpfResult::kPass);
  EXPECT_EQ(Evaluate(z, "mx.test", "192.0.2.30").result, SpfResult::kFail);
  z.AddTxt("nullmx.test", "v=spf1 mx ?all");
  z.AddMx("nullmx.test", 0, ".");
  EXPECT_EQ(Evaluate(z, "nullmx.test", "192.0.2.20").result, SpfResult::kNeutral);
  z.AddTxt("ptr.test", "v=spf1 ptr -all");
  z.AddPtr("5.2.0.192.in-addr.arpa", "mail.ptr.test");
  z.AddPtr("5.2.0.192.in-addr.arpa", "evil.test");
  z.AddA("mail.ptr.test", "192.0.2.5");
  z.AddPtr("6.2.0.192.in-addr.arpa", "mail.ptr.test");  // does not resolve back to .6
  EXPECT_EQ(Evaluate(z, "ptr.test", "192.0.2.5").result, SpfResult::kPass);
  EXPECT_EQ(Evaluate(z, "ptr.test", "192.0.2.6").result, SpfResult::kFail);
}

// Macros: %{i} and %{l} from check_host()'s arguments; count mode counts an
// exists with macros without looking it up.
TEST(SpfEvaluatorTest, MacrosExpandFromTheArguments) {
  FakeDns z;
  z.AddTxt("macro.test", "v=spf1 exists:%{i}._spf.macro.test -all");
  z.AddA("192.0.2.7._spf.macro.test", "127.0.0.2");
  EXPECT_EQ(Evaluate(z, "macro.test", "192.0.2.7").result, SpfResult::kPass);
  EXPECT_EQ(Evaluate(z, "macro.test", "192.0.2.8").result, SpfResult::kFail);
  const size_t before = z.queries().size();
  SpfVerdict count = Evaluate(z, "macro.test", "");
  EXPECT_EQ(count.lookups, 1);
  EXPECT_EQ(z.queries().size(), before + 1);  // only the TXT of macro.test
}

// %{p}: the IP's PTR names that resolve back to it, the current domain's
// (or a name below it) first; "unknown" without one. Not a term: the PTR
// and address lookups count toward neither limit.
TEST(SpfEvaluatorTest, PMacroUsesTheValidatedName) {
  FakeDns z;
  z.AddTxt("p.test", "v=spf1 exists:%{p}.ok.test -all");
  z.AddPtr("9.2.0.192.in-addr.arpa", "other.example");
  z.AddPtr("9.2.0.192.in-addr.arpa", "mx.p.test");
  z.AddA("other.example", "192.0.2.9");
  z.AddA("mx.p.test", "192.0.2.9");
  z.AddA("mx.p.test.ok.test", "127.0.0.2");
  z.AddPtr("8.2.0.192.in-addr.arpa", "mx.p.test");  // does not resolve back to .8: "unknown"
  SpfVerdict v = Evaluate(z, "p.test", "192.0.2.9");
  EXPECT_EQ(v.result, SpfResult::kPass);
  EXPECT_EQ(v.lookups, 1);
  EXPECT_EQ(v.voids, 0);
  EXPECT_EQ(Evaluate(z, "p.test", "192.0.2.8").result, SpfResult::kFail);
  const size_t before = z.queries().size();
  EXPECT_EQ(Evaluate(z, "p.test", "").lookups, 1);  // count mode: counted, not looked up
  EXPECT_EQ(z.queries().size(), before + 1);
}

}  // namespace
}  // namespace mailstack::dns
