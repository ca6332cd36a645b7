// FileTailer against real files: every rotation kind, partial and overlong
// lines, the byte budget, a missing path and a path that is a directory, and
// a long stream with hundreds of rotations that must give every line once.
#include "collectors/logs/file_tailer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace mailstack::logs {
namespace {

namespace fs = std::filesystem;

class TailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("tailer_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "mail.log").string();
  }
  void TearDown() override {
    CloseWriter();
    fs::remove_all(dir_);
  }

  // The writer: an O_APPEND descriptor like syslog daemons hold.
  void OpenWriter() {
    CloseWriter();
    wfd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    ASSERT_GE(wfd_, 0) << path_;
  }
  void CloseWriter() {
    if (wfd_ >= 0) ::close(wfd_);
    wfd_ = -1;
  }
  void Write(const std::string& bytes) {
    ASSERT_EQ(::write(wfd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  Status Poll(FileTailer& t, size_t budget = 1 << 30) {
    return t.Poll(budget, Deadline::After(std::chrono::seconds(30)), [this](std::string_view line, bool truncated) {
      lines_.emplace_back(line);
      truncated_.push_back(truncated);
    });
  }
  TailOptions Opts(bool at_end = false) {
    TailOptions o;
    o.path = path_;
    o.start_at_end = at_end;
    return o;
  }

  fs::path dir_;
  std::string path_;
  int wfd_ = -1;
  std::vector<std::string> lines_;
  std::vector<bool> truncated_;
};

using Lines = std::vector<std::string>;

TEST_F(TailerTest, StartAtEndReadsOnlyNewLinesStartAtBeginningReadsAll) {
  OpenWriter();
  Write("old 1\nold 2\n");
  FileTailer at_end(Opts(true));
  ASSERT_TRUE(Poll(at_end).ok());
  EXPECT_TRUE(lines_.empty());
  Write("new 1\n");
  ASSERT_TRUE(Poll(at_end).ok());
  EXPECT_EQ(lines_, (Lines{"new 1"}));
  lines_.clear();
  FileTailer from_start(Opts(false));
  ASSERT_TRUE(Poll(from_start).ok());
  EXPECT_EQ(lines_, (Lines{"old 1", "old 2", "new 1"}));
  EXPECT_TRUE(from_start.caught_up());
  EXPECT_EQ(from_start.bytes_read(), 18u);
}

TEST_F(TailerTest, ALineWithoutItsNewlineWaitsAndIsGivenOnce) {
  OpenWriter();
  FileTailer t(Opts());
  Write("first\nsec");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"first"}));
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"first"}));
  Write("ond\n\nthird\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"first", "second", "", "third"}));
}

// logrotate's default: rename, create; the writer keeps appending to the
// renamed file until it reopens.
TEST_F(TailerTest, RenameAndCreateReadsTheOldFileToItsEndThenTheNewOne) {
  OpenWriter();
  FileTailer t(Opts());
  Write("1\n2\n");
  ASSERT_TRUE(Poll(t).ok());
  Write("3\n");
  fs::rename(path_, path_ + ".1");
  Write("4\n");  // still the old descriptor
  std::ofstream(path_).close();
  ASSERT_TRUE(Poll(t).ok());  // new file empty: the old one stays open
  Write("5\npart");
  ASSERT_TRUE(Poll(t).ok());
  OpenWriter();  // the writer reopens: the new file
  Write("6\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"1", "2", "3", "4", "5", "6", "part"}));
  EXPECT_EQ(t.rotations(), 1u);
  Write("7\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_.back(), "7");
  EXPECT_EQ(lines_.size(), 8u);
}

TEST_F(TailerTest, DeleteAndRecreate) {
  OpenWriter();
  FileTailer t(Opts());
  Write("a\n");
  ASSERT_TRUE(Poll(t).ok());
  fs::remove(path_);
  Write("b\n");               // to the unlinked file
  ASSERT_TRUE(Poll(t).ok());  // path missing: fine, the open file is read
  EXPECT_EQ(lines_, (Lines{"a", "b"}));
  OpenWriter();
  Write("c\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"a", "b", "c"}));
  EXPECT_EQ(t.rotations(), 1u);
}

void CopyFile(const std::string& from, const std::string& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

TEST_F(TailerTest, CopyTruncateReadsWhatWasAppendedBeforeTheCopyFromTheCopy) {
  OpenWriter();
  FileTailer t(Opts());
  Write("1 the first line of this file\n2\n");
  ASSERT_TRUE(Poll(t).ok());
  Write("3\n4\n");  // after our read, before the copy
  CopyFile(path_, path_ + ".1");
  ASSERT_EQ(::truncate(path_.c_str(), 0), 0);
  Write("5\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"1 the first line of this file", "2", "3", "4", "5"}));
  EXPECT_EQ(t.rotations(), 1u);
}

// Truncated and written past the old offset before the next look: the
// file's first bytes differ, so it is still seen as truncated.
TEST_F(TailerTest, CopyTruncateSeenEvenWhenTheFileGrewPastTheOldOffset) {
  OpenWriter();
  FileTailer t(Opts());
  Write("Dec  4 10:00:00 host a\n");
  ASSERT_TRUE(Poll(t).ok());
  CopyFile(path_, path_ + ".1");
  ASSERT_EQ(::truncate(path_.c_str(), 0), 0);
  Write("Dec  4 10:00:05 host b, longer than the old file was\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"Dec  4 10:00:00 host a", "Dec  4 10:00:05 host b, longer than the old file was"}));
  EXPECT_EQ(t.rotations(), 1u);
}

TEST_F(TailerTest, MissingAtStartThenCreatedIsReadFromItsStartEvenAtEnd) {
  FileTailer t(Opts(true));
  Status s = Poll(t);
  EXPECT_EQ(s.message(), "open " + path_ + ": No such file or directory");
  OpenWriter();
  Write("x\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"x"}));
}

TEST_F(TailerTest, BrieflyMissingBetweenRenameAndCreate) {
  OpenWriter();
  FileTailer t(Opts());
  ASSERT_TRUE(Poll(t).ok());
  Write("a\n");
  fs::rename(path_, path_ + ".1");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"a"}));
  OpenWriter();
  Write("b\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"a", "b"}));
  EXPECT_EQ(t.rotations(), 1u);
}

TEST_F(TailerTest, ByteBudgetSpreadsABacklogOverPolls) {
  OpenWriter();
  std::string backlog;
  for (int i = 0; i < 1000; ++i) backlog += "line " + std::to_string(i) + "\n";
  Write(backlog);
  FileTailer t(Opts());
  int polls = 0;
  do {
    ASSERT_TRUE(Poll(t, 1000).ok());
    ++polls;
  } while (!t.caught_up() && polls < 100);
  EXPECT_TRUE(t.caught_up());
  EXPECT_GE(polls, static_cast<int>(backlog.size() / 1000));
  ASSERT_EQ(lines_.size(), 1000u);
  EXPECT_EQ(lines_[999], "line 999");
  EXPECT_EQ(t.bytes_read(), backlog.size());
}

TEST_F(TailerTest, AnOverlongLineIsCutAndFlaggedAndTheNextLineIsWhole) {
  OpenWriter();
  TailOptions o = Opts();
  o.max_line_bytes = 1000;
  FileTailer t(o);
  Write(std::string(5000, 'x'));
  ASSERT_TRUE(Poll(t).ok());
  Write(std::string(5000, 'y') + "\nok\n");
  ASSERT_TRUE(Poll(t).ok());
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0], std::string(1000, 'x'));
  EXPECT_TRUE(truncated_[0]);
  EXPECT_EQ(lines_[1], "ok");
  EXPECT_FALSE(truncated_[1]);
}

TEST_F(TailerTest, BinaryJunkAndNulBytesAreLinesLikeAnyOther) {
  OpenWriter();
  FileTailer t(Opts());
  Write(std::string("a\0b\xff\xfe\n", 6) + "\x01\x02\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{std::string("a\0b\xff\xfe", 5), "\x01\x02"}));
}

TEST_F(TailerTest, APathReplacedByADirectoryIsAnErrorUntilItIsAFileAgain) {
  OpenWriter();
  FileTailer t(Opts());
  Write("a\n");
  ASSERT_TRUE(Poll(t).ok());
  CloseWriter();
  fs::remove(path_);
  fs::create_directory(path_);
  Status s = Poll(t);
  EXPECT_EQ(s.message(), path_ + " is a directory");
  fs::remove(path_);
  OpenWriter();
  Write("b\n");
  ASSERT_TRUE(Poll(t).ok());
  EXPECT_EQ(lines_, (Lines{"a", "b"}));
}

// Rotations of every kind at random points of a long stream, polls with
// random budgets in between, inside rotations too (between rename and
// create, between copy and truncate), and one that catches up after each
// rotation (the collector polls every few seconds with a budget far above
// what is written in between, logrotate runs daily; a reader still behind
// when the next rotation replaces the copy of a copytruncate loses what it
// had not read): every line exactly once.
TEST_F(TailerTest, EveryLineOnceAcrossAHundredRotationsOfEachKind) {
  std::mt19937 rng(12);  // fixed seed: the same interleaving every run
  OpenWriter();
  FileTailer t(Opts());
  const int kRotationsPerKind = 100, kLinesBetween = 700;
  int written = 0;
  auto write_lines = [&](int n) {
    std::string batch;
    for (int i = 0; i < n; ++i)
      batch += "Dec  4 10:00:00 host postfix/smtpd[1]: line " + std::to_string(written++) + "\n";
    Write(batch);
  };
  write_lines(1);
  ASSERT_TRUE(Poll(t).ok());  // following the file from its first line
  auto maybe_poll = [&] {
    if (rng() % 3 != 0) return;
    ASSERT_TRUE(Poll(t, 1 + rng() % 40000).ok());
  };
  for (int r = 0; r < 3 * kRotationsPerKind; ++r) {
    write_lines(kLinesBetween / 2 + static_cast<int>(rng() % kLinesBetween));
    maybe_poll();
    switch (r % 3) {
      case 0:  // rename + create; the writer appends a little more to the old file first
        fs::rename(path_, path_ + ".1");
        maybe_poll();
        write_lines(static_cast<int>(rng() % 5));
        OpenWriter();
        break;
      case 1:  // copytruncate
        CopyFile(path_, path_ + ".1");
        maybe_poll();
        ASSERT_EQ(::truncate(path_.c_str(), 0), 0);
        break;
      case 2:  // delete + recreate
        fs::remove(path_);
        maybe_poll();
        OpenWriter();
        break;
    }
    write_lines(1 + static_cast<int>(rng() % 3));
    ASSERT_TRUE(Poll(t).ok());
  }
  write_lines(10);
  for (int i = 0; i < 1000 && !(t.caught_up() && static_cast<int>(lines_.size()) >= written); ++i) {
    ASSERT_TRUE(Poll(t).ok());
  }
  ASSERT_EQ(static_cast<int>(lines_.size()), written);
  for (int i = 0; i < written; ++i) {
    const std::string want = "Dec  4 10:00:00 host postfix/smtpd[1]: line " + std::to_string(i);
    ASSERT_EQ(lines_[static_cast<size_t>(i)], want) << "line " << i;
  }
  EXPECT_EQ(t.rotations(), static_cast<uint64_t>(3 * kRotationsPerKind));
}

}  // namespace
}  // namespace mailstack::logs
