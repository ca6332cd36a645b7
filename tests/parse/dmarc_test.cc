#include "collectors/parse/dmarc.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailstack {
namespace {

using Strings = std::vector<std::string>;

dmarc::Record MustParse(const std::string& txt) {
  auto r = dmarc::Parse(txt);
  EXPECT_TRUE(r.ok()) << txt << ": " << r.status().message();
  return r.ok() ? *r : dmarc::Record{};
}

TEST(DmarcTest, IsDmarcRecord) {
  EXPECT_TRUE(dmarc::IsDmarcRecord("v=DMARC1"));
  EXPECT_TRUE(dmarc::IsDmarcRecord("v=DMARC1;"));
  EXPECT_TRUE(dmarc::IsDmarcRecord("v=DMARC1; p=none"));
  EXPECT_TRUE(dmarc::IsDmarcRecord("v=DMARC1 \t; p=none"));
  EXPECT_TRUE(dmarc::IsDmarcRecord("V=DMARC1; p=none"));   // the tag name is an ABNF literal
  EXPECT_FALSE(dmarc::IsDmarcRecord("v=dmarc1; p=none"));  // the version is %x44.4d.41.52.43.31
  EXPECT_FALSE(dmarc::IsDmarcRecord("v=DMARC10; p=none"));
  EXPECT_FALSE(dmarc::IsDmarcRecord("v=DMARC1 p=none"));
  EXPECT_FALSE(dmarc::IsDmarcRecord(" v=DMARC1; p=none"));
  EXPECT_FALSE(dmarc::IsDmarcRecord("p=none; v=DMARC1"));
  EXPECT_FALSE(dmarc::IsDmarcRecord("v=spf1 -all"));
  EXPECT_FALSE(dmarc::IsDmarcRecord(""));
}

TEST(DmarcTest, FullRecord) {
  auto r = MustParse(
      "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:dmarc@example.com,mailto:agg@thirdparty.example!10m; "
      "ruf=mailto:forensic@example.com; adkim=s; aspf=s; fo=1; rf=afrf; ri=86400");
  EXPECT_EQ(r.policy, "reject");
  EXPECT_EQ(r.subdomain_policy, "quarantine");
  EXPECT_EQ(r.pct, 50);
  EXPECT_EQ(r.rua, (Strings{"mailto:dmarc@example.com", "mailto:agg@thirdparty.example!10m"}));
  EXPECT_EQ(r.ruf, (Strings{"mailto:forensic@example.com"}));
  EXPECT_EQ(r.adkim, "s");
  EXPECT_EQ(r.aspf, "s");
}

TEST(DmarcTest, RealWorldAndDefaults) {
  auto r = MustParse("v=DMARC1; p=reject; rua=mailto:mailauth-reports@google.com");  // google.com
  EXPECT_EQ(r.policy, "reject");
  EXPECT_EQ(r.subdomain_policy, "");
  EXPECT_EQ(r.pct, 100);
  EXPECT_EQ(r.rua, (Strings{"mailto:mailauth-reports@google.com"}));
  EXPECT_TRUE(r.ruf.empty());
  EXPECT_EQ(r.adkim, "r");
  EXPECT_EQ(r.aspf, "r");
  r = MustParse("v=DMARC1; p=reject; pct=100; rua=mailto:d@rua.agari.com; ruf=mailto:d@ruf.agari.com; fo=1");
  EXPECT_EQ(r.ruf, (Strings{"mailto:d@ruf.agari.com"}));
  r = MustParse("v=DMARC1; p=none");
  EXPECT_EQ(r.policy, "none");
  r = MustParse("v=DMARC1;p=quarantine;pct=0");
  EXPECT_EQ(r.policy, "quarantine");
  EXPECT_EQ(r.pct, 0);
}

TEST(DmarcTest, LenientWhereTheRfcIs) {
  // Tag names and policy keywords are ABNF literals: case-insensitive, stored lower case.
  auto r = MustParse("v=DMARC1; P=Reject; SP=NONE; ADKIM=S; Aspf=R");
  EXPECT_EQ(r.policy, "reject");
  EXPECT_EQ(r.subdomain_policy, "none");
  EXPECT_EQ(r.adkim, "s");
  EXPECT_EQ(r.aspf, "r");
  // WSP around '=' and ';', empty tags, a trailing ';', unknown tags, p= anywhere after v=.
  r = MustParse(
      "v=DMARC1 ;  rua = mailto:a@example.com , https://dmarc.example.net/report!1g ;; "
      "np=reject; psd=n; p = none ;");
  EXPECT_EQ(r.policy, "none");
  EXPECT_EQ(r.rua, (Strings{"mailto:a@example.com", "https://dmarc.example.net/report!1g"}));
  r = MustParse("v=DMARC1; p=none; pct=007; rua=MAILTO:Reports@Example.COM!50");
  EXPECT_EQ(r.pct, 7);
  EXPECT_EQ(r.rua, (Strings{"MAILTO:Reports@Example.COM!50"}));
}

struct BadCase {
  const char* record;
  const char* message;
};

TEST(DmarcTest, Errors) {
  const BadCase cases[] = {
      {"v=DMARC1", "DMARC: p= missing"},
      {"v=DMARC1; sp=none; rua=mailto:a@example.com", "DMARC: p= missing"},
      {"v=DMARC1; p=block", "DMARC: bad p= \"block\""},
      {"v=DMARC1; p=", "DMARC: bad p= \"\""},
      {"v=DMARC1; p=none; sp=x", "DMARC: bad sp= \"x\""},
      {"v=DMARC1; p=none; pct=101", "DMARC: bad pct= \"101\""},
      {"v=DMARC1; p=none; pct=-1", "DMARC: bad pct= \"-1\""},
      {"v=DMARC1; p=none; pct=0100", "DMARC: bad pct= \"0100\""},
      {"v=DMARC1; p=none; pct=50%", "DMARC: bad pct= \"50%\""},
      {"v=DMARC1; p=none; pct=", "DMARC: bad pct= \"\""},
      {"v=DMARC1; p=none; adkim=x", "DMARC: bad adkim= \"x\""},
      {"v=DMARC1; p=none; aspf=strict", "DMARC: bad aspf= \"strict\""},
      {"v=DMARC1; p=none; rua=http://example.com/r", "DMARC: bad rua= URI \"http://example.com/r\""},
      {"v=DMARC1; p=none; rua=dmarc@example.com", "DMARC: bad rua= URI \"dmarc@example.com\""},
      {"v=DMARC1; p=none; rua=mailto:nobody", "DMARC: bad rua= URI \"mailto:nobody\""},
      {"v=DMARC1; p=none; rua=mailto:@example.com", "DMARC: bad rua= URI \"mailto:@example.com\""},
      {"v=DMARC1; p=none; rua=https://", "DMARC: bad rua= URI \"https://\""},
      {"v=DMARC1; p=none; rua=mailto:a@example.com!10x", "DMARC: bad rua= URI \"mailto:a@example.com!10x\""},
      {"v=DMARC1; p=none; rua=mailto:a@example.com!", "DMARC: bad rua= URI \"mailto:a@example.com!\""},
      {"v=DMARC1; p=none; rua=mailto:a@example.com,", "DMARC: bad rua= URI \"\""},
      {"v=DMARC1; p=none; rua=", "DMARC: bad rua= URI \"\""},
      {"v=DMARC1; p=none; ruf=mailto:a@example.com mailto:b@example.com",
       "DMARC: bad ruf= URI \"mailto:a@example.com mailto:b@example.com\""},
      {"v=DMARC1; p=none; p=reject", "DMARC: duplicate tag \"p\""},
      {"v=DMARC1; p=none; P=reject", "DMARC: duplicate tag \"p\""},
      {"v=DMARC1; v=DMARC1; p=none", "DMARC: duplicate tag \"v\""},
      {"v=DMARC1; p=none; rua=mailto:a@example.com; rua=mailto:b@example.com", "DMARC: duplicate tag \"rua\""},
      {"v=DMARC1; p", "DMARC: bad tag \"p\""},
      {"v=DMARC1; p=none; 1x=y", "DMARC: bad tag \"1x=y\""},
      {"v=DMARC1; p=none; =y", "DMARC: bad tag \"=y\""},
      {"p=none; v=DMARC1", "DMARC: not a DMARC record (must start with v=DMARC1)"},
      {"v=DMARC2; p=none", "DMARC: not a DMARC record (must start with v=DMARC1)"},
      {"", "DMARC: not a DMARC record (must start with v=DMARC1)"},
  };
  for (const auto& c : cases) {
    auto r = dmarc::Parse(c.record);
    ASSERT_FALSE(r.ok()) << c.record;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << c.record;
    EXPECT_EQ(r.status().message(), c.message) << c.record;
  }
}

TEST(MtaStsTest, Records) {
  EXPECT_TRUE(dmarc::IsMtaStsRecord("v=STSv1; id=20160831085700Z;"));
  EXPECT_TRUE(dmarc::IsMtaStsRecord("v=STSv1"));
  EXPECT_FALSE(dmarc::IsMtaStsRecord("v=STSv1id=1"));
  EXPECT_FALSE(dmarc::IsMtaStsRecord("v=stsv1; id=1"));
  EXPECT_FALSE(dmarc::IsMtaStsRecord("v=TLSRPTv1; rua=mailto:a@example.com"));
  // RFC 8461 3.1 example.
  EXPECT_EQ(*dmarc::ParseMtaSts("v=STSv1; id=20160831085700Z;"), "20160831085700Z");
  EXPECT_EQ(*dmarc::ParseMtaSts("v=STSv1;id=abc123"), "abc123");
  EXPECT_EQ(*dmarc::ParseMtaSts("v=STSv1 ; foo=bar.baz ; id=" + std::string(32, 'Z') + " ;"), std::string(32, 'Z'));
  const BadCase bad[] = {
      {"v=STSv1", "MTA-STS: id= missing"},
      {"v=STSv1;", "MTA-STS: id= missing"},
      {"v=STSv1; foo=bar", "MTA-STS: id= missing"},
      {"v=STSv1; id=", "MTA-STS: bad id= \"\""},
      {"v=STSv1; id=2016-08-31", "MTA-STS: bad id= \"2016-08-31\""},
      {"v=STSv1; id=123456789012345678901234567890123", "MTA-STS: bad id= \"123456789012345678901234567890123\""},
      {"v=STSv1; id=1; id=2", "MTA-STS: duplicate id="},
      {"v=STSv1; id=1; foo", "MTA-STS: bad field \"foo\""},
      {"v=STSv1; id=1; foo=", "MTA-STS: bad field \"foo=\""},
      {"v=STSv1; id=1; _x=1", "MTA-STS: bad field \"_x=1\""},
      {"v=STSv1; id=1; x=a b", "MTA-STS: bad field \"x=a b\""},
      {"v=STSv1; id = 1", "MTA-STS: bad field \"id = 1\""},
      {"v=STSv1; id=1;; x=y", "MTA-STS: empty field at offset 14"},
      {"v=STSv2; id=1", "MTA-STS: not an MTA-STS record (must start with v=STSv1)"},
      {"id=1; v=STSv1", "MTA-STS: not an MTA-STS record (must start with v=STSv1)"},
  };
  for (const auto& c : bad) {
    auto r = dmarc::ParseMtaSts(c.record);
    ASSERT_FALSE(r.ok()) << c.record;
    EXPECT_EQ(r.status().message(), c.message) << c.record;
  }
}

TEST(TlsRptTest, Records) {
  EXPECT_TRUE(dmarc::IsTlsRptRecord("v=TLSRPTv1; rua=mailto:reports@example.com"));
  EXPECT_TRUE(dmarc::IsTlsRptRecord("v=TLSRPTv1;rua=mailto:reports@example.com"));
  EXPECT_FALSE(dmarc::IsTlsRptRecord("v=TLSRPTv10; rua=mailto:reports@example.com"));
  EXPECT_FALSE(dmarc::IsTlsRptRecord("v=tlsrptv1; rua=mailto:reports@example.com"));
  // RFC 8460 3.1 examples.
  EXPECT_EQ(*dmarc::ParseTlsRpt("v=TLSRPTv1;rua=mailto:reports@example.com"), (Strings{"mailto:reports@example.com"}));
  EXPECT_EQ(*dmarc::ParseTlsRpt("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"),
            (Strings{"https://reporting.example.com/v1/tlsrpt"}));
  EXPECT_EQ(*dmarc::ParseTlsRpt("v=TLSRPTv1; rua=mailto:tls@example.com , https://r.example.net/tlsrpt; ext=1;"),
            (Strings{"mailto:tls@example.com", "https://r.example.net/tlsrpt"}));
  const BadCase bad[] = {
      {"v=TLSRPTv1", "TLS-RPT: rua= missing"},
      {"v=TLSRPTv1;", "TLS-RPT: rua= missing"},
      {"v=TLSRPTv1; rua=", "TLS-RPT: bad rua= URI \"\""},
      {"v=TLSRPTv1; rua=http://r.example.com/", "TLS-RPT: bad rua= URI \"http://r.example.com/\""},
      {"v=TLSRPTv1; rua=tls@example.com", "TLS-RPT: bad rua= URI \"tls@example.com\""},
      {"v=TLSRPTv1; rua=mailto:a@example.com,", "TLS-RPT: bad rua= URI \"\""},
      {"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", "TLS-RPT: duplicate rua="},
      {"v=TLSRPTv1; rua=mailto:a@example.com; junk", "TLS-RPT: bad field \"junk\""},
      {"v=TLSRPTv1; RUA=mailto:a@example.com", "TLS-RPT: rua= missing"},
      {"v=TLSRPTv1;; rua=mailto:a@example.com", "TLS-RPT: empty field at offset 11"},
      {"v=TLSRPTv2; rua=mailto:a@example.com", "TLS-RPT: not a TLS-RPT record (must start with v=TLSRPTv1)"},
      {"", "TLS-RPT: not a TLS-RPT record (must start with v=TLSRPTv1)"},
  };
  for (const auto& c : bad) {
    auto r = dmarc::ParseTlsRpt(c.record);
    ASSERT_FALSE(r.ok()) << c.record;
    EXPECT_EQ(r.status().message(), c.message) << c.record;
  }
}

TEST(DmarcTest, BoundedOnHugeInput) {
  std::string rua = "v=DMARC1; p=none; rua=mailto:a@example.com";
  while (rua.size() < 65536) rua += ",mailto:a@example.com";
  auto r = dmarc::Parse(rua);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->rua.size(), 3000u);
  std::string semis = "v=DMARC1" + std::string(65536, ';') + "p=none";
  EXPECT_EQ(dmarc::Parse(semis)->policy, "none");
  std::string fields = "v=STSv1";
  for (int i = 0; fields.size() < 65536; ++i) fields += "; x" + std::to_string(i) + "=y";
  EXPECT_EQ(dmarc::ParseMtaSts(fields).status().message(), "MTA-STS: id= missing");
}

}  // namespace
}  // namespace mailstack
