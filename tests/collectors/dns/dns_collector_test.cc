// The dns collector's options, reverse names, and broken resolvers (silent,
// refusing). The record checks themselves are proven against a real nsd in
// tests/integration/test_dns.py; the record parsers have table tests in
// tests/parse/.
#include "collectors/dns/dns_collector.h"
#include "collectors/tls/openssl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "collectors/core/logging.h"
#include "collectors/dns/dkim_keys.h"
#include "collectors/net/dns_client.h"
#include "tests/support/fake_server.h"
#include "tests/support/option_errors.h"
#include "tests/support/samples.h"

namespace mailstack {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(DnsClientTest, ReverseNames) {
  EXPECT_EQ(net::DnsClient::ReverseName({192, 0, 2, 25}), "25.2.0.192.in-addr.arpa");
  EXPECT_EQ(net::DnsClient::ReverseName({192, 0, 2, 25}, false), "25.2.0.192");
  std::vector<uint8_t> v6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x25};
  EXPECT_EQ(net::DnsClient::ReverseName(v6),
            "5.2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(net::DnsClient::ReverseName(v6, false), "5.2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
}

TEST(DnsCollectorTest, OptionErrors) {
  testing::ExpectOptionErrors<DnsCollector>({
      {"domains: []", "t.yml:1:10: domains: must list at least one domain"},
      {"domains:\n  - {domain: 'exa mple.com'}",
       "t.yml:2:14: domains[0].domain: must be a domain name (got \"exa mple.com\")"},
      {"domains:\n  - {domain: example.com, ips: [1.2.3]}",
       "t.yml:2:33: domains[0].ips[0]: must be an IPv4 or IPv6 address (got \"1.2.3\")"},
      {"domains:\n  - {domain: example.com, dkim: [{selector: mail, key_file: keys/mail.private}]}",
       "t.yml:2:61: domains[0].dkim[0].key_file: must be an absolute path (got \"keys/mail.private\")"},
      {"domains:\n  - {domain: example.com}\n  - {domain: Example.com}",
       "t.yml:3:14: domains[1].domain: duplicate domain \"example.com\""},
      {"resolver: 'ns1.example.com:53'\ndomains:\n  - {domain: example.com}",
       "t.yml:1:11: resolver: must be IP:PORT of a DNS server (got \"ns1.example.com:53\")"},
      {"domains:\n  - {domain: example.com}\ndnsbl: {zones: ['zen spamhaus']}",
       "t.yml:3:17: dnsbl.zones[0]: must be a DNS zone (got \"zen spamhaus\")"},
      {"domains:\n  - {domain: example.com, dkim: [{selector: mail}, {selector: MAIL}]}",
       "t.yml:2:63: domains[0].dkim[1].selector: duplicate selector \"MAIL\""},
      {"domains:\n  - {domain: example.com, ips: ['2001:db8::1', '2001:DB8:0::1']}",
       "t.yml:2:48: domains[0].ips[1]: duplicate ip \"2001:DB8:0::1\""},
      {"domains:\n  - {domain: example.com}\ndnsbl: {zones: [bl.test, BL.test.]}",
       "t.yml:3:26: dnsbl.zones[1]: duplicate zone \"BL.test.\""},
      {"domains:\n  - {domain: example.com}\ndnsbl: {}", "t.yml:3:8: dnsbl.zones: missing required key"},
      {"domains:\n  - {domain: example.com, spf: yes}",
       "t.yml:2:27: domains[0].spf: unknown key (allowed: domain, mail_host, ips, dkim)"},
  });
  auto root = ParseYaml(
      "resolver: '127.0.0.1:5353'\ndomains:\n  - domain: Example.COM\n    mail_host: mail.example.com\n"
      "    ips: [192.0.2.25, '2001:DB8::25']\n    dkim: [{selector: mail, key_file: /k.pem}]\n"
      "dnsbl: {zones: [zen.spamhaus.org]}",
      "t.yml");
  auto o = DnsCollector::ParseOptions(*root);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->domains[0].domain, "example.com");
  EXPECT_EQ(o->domains[0].ips, (std::vector<std::string>{"192.0.2.25", "2001:db8::25"}));
  EXPECT_EQ(o->domains[0].dkim[0].key_file, "/k.pem");
  EXPECT_EQ(o->dnsbl_zones, (std::vector<std::string>{"zen.spamhaus.org"}));
}

std::string WriteFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name + std::to_string(::getpid());
  std::ofstream(path) << content;
  return path;
}

std::string Pem(EVP_PKEY* k, bool priv) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (priv) {
    PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio.get(), k);
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// key_file may be the private key, a public key, or opendkim-genkey's .txt
// record: all give the same public key; an encrypted key is an error (never
// a passphrase prompt).
TEST(DnsCollectorTest, DkimKeyFileForms) {
  EvpPkeyPtr key(EVP_RSA_gen(1024));
  EVP_PKEY* k = key.get();
  unsigned char* raw = nullptr;
  int len = i2d_PUBKEY(k, &raw);
  OpenSslMemPtr<unsigned char> der(raw);
  const std::string want(reinterpret_cast<char*>(der.get()), static_cast<size_t>(len));
  std::string b64(4 * ((want.size() + 2) / 3) + 1, '\0');
  b64.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                                 reinterpret_cast<const unsigned char*>(want.data()),
                                                 static_cast<int>(want.size()))));
  // opendkim-genkey's layout: strings split across lines, a ';' inside them, a trailing comment.
  const std::string txt = "mail._domainkey\tIN\tTXT\t( \"v=DKIM1; h=sha256; k=rsa; \"\n\t  \"p=" + b64.substr(0, 100) +
                          "\"\n\t  \"" + b64.substr(100) + "\" )  ; ----- DKIM key mail for example.com\n";
  const std::string priv = WriteFile("mail.private", Pem(k, true));
  const std::string pub = WriteFile("mail.pub", Pem(k, false));
  const std::string rec = WriteFile("mail.txt", txt);
  for (const auto& path : {priv, pub, rec}) {
    auto got = DkimPublicKeyFromFile(path);
    ASSERT_TRUE(got.ok()) << path << ": " << got.status().message();
    EXPECT_EQ(*got, want) << path;
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), k, EVP_aes_128_cbc(), nullptr, 0, nullptr, const_cast<char*>("secret"));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  const std::string enc = WriteFile("enc.private", std::string(data, static_cast<size_t>(n)));
  auto e = DkimPublicKeyFromFile(enc);
  EXPECT_EQ(e.status().message(), enc + ": no readable PEM private or public key");
  EXPECT_EQ(DkimPublicKeyFromFile("/nonexistent/k").status().message(), "/nonexistent/k: No such file or directory");
  for (const auto& p : {priv, pub, rec, enc}) std::remove(p.c_str());
}

DnsCollector::Options OneDomain(const std::string& resolver) {
  DnsCollector::Options o;
  o.resolver = resolver;
  DnsCollector::Domain d;
  d.domain = "example.test";
  d.mail_host = "mail.example.test";
  d.ips = {"192.0.2.25"};
  d.ip_bytes = {{192, 0, 2, 25}};
  d.dkim = {{"mail", ""}};
  o.domains = {d};
  o.dnsbl_zones = {"bl.test"};
  return o;
}

// A resolver that never answers: the run ends by its deadline, fails (no
// answer at all), and publishes no made-up record values.
TEST(DnsCollectorTest, SilentResolverEndsByTheDeadline) {
  testing::SilentUdpServer silent;
  DnsCollector c(OneDomain(silent.address()));
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  CollectContext ctx{Deadline::After(1500ms), &stop};
  MetricSink sink(c.Describe());
  Status s = c.Collect(ctx, sink);
  const auto took = Clock::now() - start;
  // c-ares on its own retries for many seconds; the second of slack past the
  // deadline is for a loaded machine.
  EXPECT_LT(took, 1500ms + 1s);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("no DNS lookup was answered (", 0), 0u) << s.message();
  for (const auto& f : testing::TakeChecked(sink)) {
    if (f.name == "mailstack_dns_lookup_failures") {
      ASSERT_EQ(f.metric.size(), 1u);
      EXPECT_GT(f.metric[0].gauge.value, 5);
    } else if (f.name == "mailstack_dnsbl_query_error") {
      ASSERT_EQ(f.metric.size(), 1u);
      EXPECT_EQ(f.metric[0].gauge.value, 1);
    } else if (f.name == "mailstack_dnsbl_listed") {
      ASSERT_EQ(f.metric.size(), 1u);
      EXPECT_EQ(f.metric[0].gauge.value, 0);
    } else {
      EXPECT_TRUE(f.metric.empty()) << f.name;  // nothing is claimed present or missing
    }
  }
}

// A domain's problems are logged once (ProblemMemo): the same unanswered
// lookups in the next run log nothing.
TEST(DnsCollectorTest, ProblemsAreLoggedOnce) {
  testing::SilentUdpServer silent;
  DnsCollector c(OneDomain(silent.address()));
  std::vector<std::string> lines;
  SetLogSinkForTest([&](std::string_view l) { lines.emplace_back(l); });
  std::atomic<bool> stop{false};
  for (int run = 0; run < 2; ++run) {
    CollectContext ctx{Deadline::After(500ms), &stop};
    MetricSink sink(c.Describe());
    (void)c.Collect(ctx, sink);
  }
  SetLogSinkForTest(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("level=warn"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("msg=\"DNS check problem\" domain=example.test err=\"lookup failed: "), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("caller=dns/dns_collector.cc:"), std::string::npos) << lines[0];
}

TEST(DnsCollectorTest, StopEndsTheRun) {
  testing::SilentUdpServer silent;
  DnsCollector c(OneDomain(silent.address()));
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop = true;
  });
  const auto start = Clock::now();
  CollectContext ctx{Deadline::After(30s), &stop};
  MetricSink sink(c.Describe());
  (void)c.Collect(ctx, sink);
  stopper.join();
  EXPECT_LT(Clock::now() - start, 5s);  // stopped after 200 ms; without the stop it would take 30 s
}

}  // namespace
}  // namespace mailstack
