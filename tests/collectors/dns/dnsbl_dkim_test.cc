// DNSBL answers (RFC 5782) and DKIM key records, the pieces of the dns
// collector that need no resolver. Against real DNS: tests/integration/test_dns.py.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "collectors/dns/dkim_keys.h"
#include "collectors/dns/dnsbl.h"
#include "tests/collectors/dns/fake_dns.h"

namespace mailstack::dns {
namespace {

using testing::FakeDns;

TEST(DnsblTest, AnswersAreListingsOrErrors) {
  FakeDns z;
  z.AddA("2.0.0.127.bl.test", "127.0.0.2");             // the RFC 5782 test entry: listed
  z.AddA("1.0.0.127.bl.test", "127.255.255.254");       // an error code (e.g. a refused resolver)
  z.AddA("3.0.0.127.bl.test", "127.0.0.1");             // never a listing (RFC 5782 2.1)
  z.AddA("4.0.0.127.bl.test", "192.0.2.1");             // not a return code (a hijacking resolver)
  z.AddTimeout("5.0.0.127.bl.test", net::DnsType::kA);  // no answer
  z.AddA("5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test", "127.0.0.4");  // IPv6 nibbles
  std::vector<DnsblIp> ips;
  for (int last = 1; last <= 6; ++last) {
    ips.push_back(DnsblIp{"127.0.0." + std::to_string(last), {127, 0, 0, static_cast<uint8_t>(last)}});
  }
  ips.push_back(DnsblIp{"2001:db8::25", {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25}});
  std::vector<DnsblListing> listings;
  QueryDnsbl(z, ips, {"bl.test", "other.test"}, listings);
  z.Run();
  ASSERT_EQ(listings.size(), 14u);
  std::map<std::string, std::pair<int, int>> got;  // ip -> (listed, error) in bl.test
  for (const auto& l : listings) {
    if (l.zone == "bl.test") {
      got[l.ip] = {l.listed, l.error};
    } else {
      EXPECT_EQ(std::make_pair(l.listed, l.error), std::make_pair(0, 0)) << l.ip;  // NXDOMAIN: not listed
    }
  }
  const std::map<std::string, std::pair<int, int>> want = {
      {"127.0.0.1", {0, 1}}, {"127.0.0.2", {1, 0}}, {"127.0.0.3", {0, 1}},    {"127.0.0.4", {0, 1}},
      {"127.0.0.5", {0, 1}}, {"127.0.0.6", {0, 0}}, {"2001:db8::25", {1, 0}},
  };
  EXPECT_EQ(got, want);
}

TEST(DkimKeyTest, RecordChecks) {
  const std::string ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  DkimKeyCheck none = CheckDkimKey({}, "DKIM s._domainkey.example.test", "");
  EXPECT_FALSE(none.present);
  EXPECT_FALSE(none.valid);
  EXPECT_EQ(none.problems, std::vector<std::string>{"DKIM s._domainkey.example.test: no record"});
  DkimKeyCheck two = CheckDkimKey({ed, ed}, "DKIM s", "");
  EXPECT_TRUE(two.present);
  EXPECT_FALSE(two.valid);
  EXPECT_EQ(two.problems, std::vector<std::string>{"DKIM s: more than one record"});
  DkimKeyCheck good = CheckDkimKey({ed}, "DKIM s", "");
  EXPECT_TRUE(good.valid);
  EXPECT_EQ(good.bits, 256);
  EXPECT_EQ(good.matches, -1);  // no key_file
  EXPECT_TRUE(good.problems.empty());
  DkimKeyCheck short_key = CheckDkimKey({"v=DKIM1; k=ed25519; p=AAAA"}, "DKIM s", "");
  EXPECT_TRUE(short_key.present);
  EXPECT_FALSE(short_key.valid);
  EXPECT_EQ(short_key.problems, std::vector<std::string>{"DKIM s: p= is not a usable ed25519 key"});
  DkimKeyCheck no_file = CheckDkimKey({ed}, "DKIM s", "/nonexistent/s.private");
  EXPECT_TRUE(no_file.file_error);
  EXPECT_EQ(no_file.matches, -1);
  EXPECT_EQ(no_file.problems, std::vector<std::string>{"/nonexistent/s.private: No such file or directory"});
}

}  // namespace
}  // namespace mailstack::dns
