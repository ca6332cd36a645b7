#include "collectors/filesystem_collector.h"

#include <gtest/gtest.h>
#include <sys/statvfs.h>

#include <atomic>
#include <map>

#include "collectors/core/config_node.h"
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

TEST(FilesystemCollectorTest, DefaultOptionsAreDebianMailPaths) {
  auto root = ParseYaml("{}", "t.yml");
  ASSERT_TRUE(root.ok());
  auto o = FilesystemCollector::ParseOptions((*root)["filesystem"]);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->paths, (std::vector<std::string>{"/", "/var/spool/postfix", "/var/mail"}));
}

}  // namespace
}  // namespace mailstack
