#include "collectors/filesystem_collector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <map>

#include "collectors/core/config_node.h"
#include "collectors/core/logging.h"
#include "tests/support/samples.h"

namespace mailstack {
namespace {

// Sample value by family name and path label; -1 when absent.
std::map<std::string, std::map<std::string, double>> ByFamily(std::vector<prometheus::MetricFamily> fams) {
  std::map<std::string, std::map<std::string, double>> out;
  for (const auto& f : fams) {
    out[f.name];
    for (const auto& m : f.metric) out[f.name][m.label.at(0).value] = m.gauge.value;
  }
  return out;
}

TEST(FilesystemCollectorTest, ValuesEqualStatvfsAndMissingPathIsAnItemError) {
  FilesystemCollector::Options o;
  o.paths = {"/", "/nonexistent/mailstack-test"};
  FilesystemCollector c(o);
  std::atomic<bool> stop{false};
  CollectContext ctx{Deadline::After(std::chrono::seconds(5)), &stop};
  MetricSink sink(c.Describe());
  ASSERT_TRUE(c.Collect(ctx, sink).ok());
  auto got = ByFamily(::mailstack::testing::TakeChecked(sink));

  struct statvfs st {};
  ASSERT_EQ(statvfs("/", &st), 0);
  const double fr = static_cast<double>(st.f_frsize);
  EXPECT_EQ(got["mailstack_filesystem_size_bytes"]["/"], static_cast<double>(st.f_blocks) * fr);
  EXPECT_EQ(got["mailstack_filesystem_files"]["/"], static_cast<double>(st.f_files));
  // Free space moves while tests run; it must be within 64 MiB of ours.
  EXPECT_NEAR(got["mailstack_filesystem_avail_bytes"]["/"], static_cast<double>(st.f_bavail) * fr, 64.0 * 1048576);
  EXPECT_NEAR(got["mailstack_filesystem_free_bytes"]["/"], static_cast<double>(st.f_bfree) * fr, 64.0 * 1048576);
  EXPECT_EQ(got["mailstack_filesystem_readonly"]["/"], (st.f_flag & ST_RDONLY) ? 1 : 0);
  EXPECT_EQ(got["mailstack_filesystem_device_error"]["/"], 0);

  EXPECT_EQ(got["mailstack_filesystem_device_error"]["/nonexistent/mailstack-test"], 1);
  EXPECT_EQ(got["mailstack_filesystem_size_bytes"].count("/nonexistent/mailstack-test"), 0u);
  // Every family is declared even when a path fails.
  EXPECT_EQ(got.size(), 7u);
}

TEST(FilesystemCollectorTest, ExpiredDeadlineMarksPathsAsErrors) {
  FilesystemCollector c({{"/"}});
  std::atomic<bool> stop{false};
  CollectContext ctx{Deadline::After(std::chrono::seconds(-1)), &stop};
  MetricSink sink(c.Describe());
  ASSERT_TRUE(c.Collect(ctx, sink).ok());
  auto got = ByFamily(::mailstack::testing::TakeChecked(sink));
  EXPECT_EQ(got["mailstack_filesystem_device_error"]["/"], 1);
  EXPECT_EQ(got["mailstack_filesystem_size_bytes"].count("/"), 0u);
}

TEST(FilesystemCollectorTest, LogsTheErrnoOfAFailingPathOnceAndItsRecovery) {
  std::vector<std::string> lines;
  SetLogSinkForTest([&](std::string_view l) { lines.emplace_back(l); });
  char tmpl[] = "/tmp/mailstack-fs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/later";
  FilesystemCollector c({{path}});
  std::atomic<bool> stop{false};
  auto run = [&] {
    CollectContext ctx{Deadline::After(std::chrono::seconds(5)), &stop};
    MetricSink sink(c.Describe());
    EXPECT_TRUE(c.Collect(ctx, sink).ok());
    return ByFamily(::mailstack::testing::TakeChecked(sink))["mailstack_filesystem_device_error"][path];
  };
  EXPECT_EQ(run(), 1);
  EXPECT_EQ(run(), 1);
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  EXPECT_EQ(run(), 0);
  SetLogSinkForTest(nullptr);
  ::rmdir(path.c_str());
  ::rmdir(tmpl);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("level=warn"), std::string::npos) << lines[0];
  EXPECT_NE(
      lines[0].find("msg=\"cannot stat filesystem\" path=" + path + " err=\"statvfs: No such file or directory\""),
      std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("level=info"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("msg=\"filesystem stat works again\" path=" + path), std::string::npos) << lines[1];
}

TEST(FilesystemCollectorTest, DefaultOptionsAreDebianMailPaths) {
  auto root = ParseYaml("{}", "t.yml");
  ASSERT_TRUE(root.ok());
  auto o = FilesystemCollector::ParseOptions((*root)["filesystem"]);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->paths, (std::vector<std::string>{"/", "/var/spool/postfix", "/var/mail"}));
}

}  // namespace
}  // namespace mailstack
