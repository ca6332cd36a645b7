#include "collectors/tls/certificates_collector.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "collectors/core/logging.h"

#include "tests/support/option_errors.h"
#include "tests/support/samples.h"

namespace mailstack {
namespace {

// Fixtures made by tests/collectors/testdata/certs/make_certs.sh (fixed dates):
// root -> intermediate -> leaf (2024-01-02T03:04:05Z .. 2099-06-05T04:03:02Z), expired (2000..2001).
const std::string kDir = std::string(MAILSTACK_SOURCE_DIR) + "/tests/collectors/testdata/certs/";

using Samples = std::map<std::string, double>;

Samples CollectFiles(CertificatesCollector::Options o, std::vector<std::string>* logs = nullptr) {
  if (logs) SetLogSinkForTest([logs](std::string_view l) { logs->emplace_back(l); });
  CertificatesCollector c(std::move(o));
  std::atomic<bool> stop{false};
  CollectContext ctx{Deadline::After(std::chrono::seconds(5)), &stop};
  MetricSink sink(c.Describe());
  EXPECT_TRUE(c.Collect(ctx, sink).ok());
  if (logs) SetLogSinkForTest(nullptr);
  return testing::FlatSamples(testing::TakeChecked(sink));
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(CertificatesCollectorTest, EveryCertificateOfABundleWithExactTimesAndIdentity) {
  const std::string chain = kDir + "fullchain.pem";
  const int64_t from = Now();  // the collector reads its clock in between
  auto s = CollectFiles({{chain}, kDir + "root.pem"});
  const int64_t to = Now();
  const std::string leaf = ",source=file,name=" + chain + ",index=0";
  const std::string inter = ",source=file,name=" + chain + ",index=1";
  EXPECT_EQ(s["mailstack_tls_certificate_file_error,name=" + chain], 0);
  EXPECT_EQ(s["mailstack_tls_certificate_not_after_timestamp_seconds" + leaf], 4084315382);   // 2099-06-05T04:03:02Z
  EXPECT_EQ(s["mailstack_tls_certificate_not_before_timestamp_seconds" + leaf], 1704164645);  // 2024-01-02T03:04:05Z
  EXPECT_GE(s["mailstack_tls_certificate_expiry_seconds" + leaf], 4084315382 - to);
  EXPECT_LE(s["mailstack_tls_certificate_expiry_seconds" + leaf], 4084315382 - from);
  EXPECT_EQ(s["mailstack_tls_certificate_valid" + leaf], 1);
  EXPECT_EQ(s["mailstack_tls_certificate_not_after_timestamp_seconds" + inter], 4102444800);  // 2100-01-01
  EXPECT_EQ(s["mailstack_tls_certificate_valid" + inter], 1);
  EXPECT_EQ(s["mailstack_tls_certificate_info" + leaf +
              ",subject=CN=mail.example.test,issuer=CN=Test Intermediate,serial=1002,"
              "sha256=38b118714587ac144dc8d7d898db3d5fc01fbf0e178a6437fff1b8c1839c0545"],
            1);
  EXPECT_EQ(s["mailstack_tls_certificate_info" + inter +
              ",subject=CN=Test Intermediate,issuer=CN=Test Root CA,serial=1001,"
              "sha256=e88bfebbd28907ee78abb5e0fe005052d54b56cd87d9ee902e61bc1623ea1466"],
            1);
}

TEST(CertificatesCollectorTest, ExpiredAndUntrustedCertificatesAreReportedNotDropped) {
  auto s = CollectFiles({{kDir + "expired.pem", kDir + "leaf.pem", kDir + "self.pem"}, kDir + "root.pem"});
  const std::string expired = ",source=file,name=" + kDir + "expired.pem,index=0";
  EXPECT_EQ(s["mailstack_tls_certificate_not_after_timestamp_seconds" + expired], 978307200);  // 2001-01-01
  EXPECT_LT(s["mailstack_tls_certificate_expiry_seconds" + expired], -700000000);
  EXPECT_EQ(s["mailstack_tls_certificate_valid" + expired], 0);
  // leaf.pem alone lacks its intermediate: the chain cannot be built.
  EXPECT_EQ(s["mailstack_tls_certificate_valid,source=file,name=" + kDir + "leaf.pem,index=0"], 0);
  EXPECT_EQ(s["mailstack_tls_certificate_valid,source=file,name=" + kDir + "self.pem,index=0"], 0);
  EXPECT_EQ(
      s.count("mailstack_tls_certificate_not_after_timestamp_seconds,source=file,name=" + kDir + "self.pem,index=0"),
      1u);
  // Against the system store instead of our root, the good chain is untrusted too.
  auto sys = CollectFiles({{kDir + "fullchain.pem"}, ""});
  EXPECT_EQ(sys["mailstack_tls_certificate_valid,source=file,name=" + kDir + "fullchain.pem,index=0"], 0);
}

TEST(CertificatesCollectorTest, GlobsAndUnreadableFiles) {
  std::vector<std::string> logs;
  auto s = CollectFiles(
      {{kDir + "[fe]*.pem", kDir + "garbage.pem", kDir + "missing.pem", kDir + "nomatch*.pem"}, kDir + "root.pem"},
      &logs);
  EXPECT_EQ(s["mailstack_tls_certificate_file_error,name=" + kDir + "fullchain.pem"], 0);
  EXPECT_EQ(s["mailstack_tls_certificate_file_error,name=" + kDir + "expired.pem"], 0);
  EXPECT_EQ(s["mailstack_tls_certificate_file_error,name=" + kDir + "garbage.pem"], 1);
  EXPECT_EQ(s["mailstack_tls_certificate_file_error,name=" + kDir + "missing.pem"], 1);
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_NE(logs[0].find("err=\"" + kDir + "garbage.pem: no PEM certificate in the file\""), std::string::npos)
      << logs[0];
  EXPECT_NE(logs[1].find("err=\"" + kDir + "missing.pem: No such file or directory\""), std::string::npos) << logs[1];
}

TEST(CertificatesCollectorTest, OptionErrors) {
  testing::ExpectOptionErrors<CertificatesCollector>({
      {"files: /etc/x.pem", "t.yml:1:8: files: must be a list of strings (got a scalar \"/etc/x.pem\")"},
      {"files: [x.pem]", "t.yml:1:9: files[0]: must be an absolute path or glob (got \"x.pem\")"},
      {"ca_file: ca.pem", "t.yml:1:10: ca_file: must be an absolute path (got \"ca.pem\")"},
      {"file: [/x]", "t.yml:1:1: file: unknown key (allowed: files, ca_file)"},
      {"files: [/a.pem, /b/*.pem, /a.pem]", "t.yml:1:27: files[2]: duplicate file \"/a.pem\""},
  });
}

}  // namespace
}  // namespace mailstack
