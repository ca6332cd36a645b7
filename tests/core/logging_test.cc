#include "collectors/core/logging.h"

#include <gtest/gtest.h>

#include <regex>
#include <vector>

namespace mailstack {
namespace {

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSinkForTest([this](std::string_view l) { lines.emplace_back(l); });
  }
  void TearDown() override {
    SetLogSinkForTest(nullptr);
    SetLogFormat(LogFormat::kLogfmt);
    SetLogLevel(LogLevel::kInfo);
  }
  std::vector<std::string> lines;
};

TEST_F(LoggingTest, LogfmtHasTsLevelCallerMsgAndQuotesValues) {
  SetLogFormat(LogFormat::kLogfmt);
  MS_LOG(kInfo, "Listening on", {{"address", ":10587"}, {"err", "a \"b\"\nc"}, {"n", 3}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(
      std::regex_match(lines[0], std::regex("ts=\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z level=info "
                                            "caller=core/logging_test\\.cc:\\d+ msg=\"Listening on\" address=:10587 "
                                            "err=\"a \\\\\"b\\\\\"\\\\nc\" n=3\n")))
      << lines[0];
}

TEST_F(LoggingTest, JsonEscapesAndLevelFilters) {
  SetLogFormat(LogFormat::kJson);
  SetLogLevel(LogLevel::kWarn);
  MS_LOG(kInfo, "hidden");
  MS_LOG(kError, "collector failed", {{"collector", "filesystem"}, {"err", "tab\there"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex("\\{\"ts\":\"[0-9T:.Z-]+\",\"level\":\"error\",\"caller\":\"core/logging_test\\.cc:\\d+\","
                           "\"msg\":\"collector failed\",\"collector\":\"filesystem\",\"err\":\"tab\\\\there\"\\}\n")))
      << lines[0];
}

TEST_F(LoggingTest, ProblemMemoReportLogsAProblemOnceAndItsRecoveryOnce) {
  ProblemMemo memo({"cannot read the thing", "thing readable again", "path"});
  EXPECT_EQ(memo.Report("/a", "open: Permission denied"), ProblemMemo::Change::kNew);
  EXPECT_EQ(memo.Report("/a", "open: Permission denied"), ProblemMemo::Change::kSame);
  EXPECT_EQ(memo.Report("/b", ""), ProblemMemo::Change::kSame);  // fine all along: nothing to say
  EXPECT_EQ(memo.Report("/a", "timeout", "read timed out after 5s"), ProblemMemo::Change::kNew);
  EXPECT_EQ(memo.Report("/a", ""), ProblemMemo::Change::kCleared);
  EXPECT_EQ(memo.Report("/a", ""), ProblemMemo::Change::kSame);
  ASSERT_EQ(lines.size(), 3u);
  // The caller is the code that reported, not logging.cc.
  EXPECT_TRUE(std::regex_search(lines[0], std::regex("level=warn caller=core/logging_test\\.cc:\\d+ "
                                                     "msg=\"cannot read the thing\" path=/a "
                                                     "err=\"open: Permission denied\"\n?$")))
      << lines[0];
  EXPECT_TRUE(std::regex_search(lines[1], std::regex("level=warn .* path=/a err=\"read timed out after 5s\"\n?$")))
      << lines[1];
  EXPECT_TRUE(std::regex_search(lines[2], std::regex("level=info .* msg=\"thing readable again\" path=/a\n?$")))
      << lines[2];
}

TEST_F(LoggingTest, ProblemMemoHandsItsProblemsToASuccessor) {
  ProblemMemo old_memo({"p", "r", "item"}), successor({"p", "r", "item"});
  old_memo.Report("x", "broken");
  successor.TakeFrom(old_memo);
  EXPECT_EQ(successor.Report("x", "broken"), ProblemMemo::Change::kSame);  // already logged by the old one
  EXPECT_EQ(successor.Report("x", ""), ProblemMemo::Change::kCleared);
  EXPECT_EQ(lines.size(), 2u);
}

TEST_F(LoggingTest, ParsesLevelsAndFormats) {
  LogLevel l;
  LogFormat f;
  EXPECT_TRUE(ParseLogLevel("warn", &l));
  EXPECT_EQ(l, LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("warning", &l));
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_FALSE(ParseLogFormat("text", &f));
}

}  // namespace
}  // namespace mailstack
