#include "collectors/postfix_queue_collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <cstdio>
#include <cstdlib>

#include "collectors/core/logging.h"
#include "tests/support/fake_server.h"
#include "tests/support/queue_file_record.h"
#include "tests/support/samples.h"

#include "tests/support/option_errors.h"

namespace mailstack {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using testing::FakeServer;
using Clock = std::chrono::steady_clock;

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Message(const std::string& queue, int64_t time, int64_t size, const std::vector<std::string>& reasons) {
  std::string m = "queue_name\0"s + queue + "\0queue_id\0ABC123\0time\0"s + std::to_string(time) + "\0size\0"s +
                  std::to_string(size) +
                  "\0forced_expire\0"
                  "0\0sender\0a@b.test\0"s;
  for (const auto& r : reasons) m += "recipient\0x@y.test\0reason\0"s + r + "\0"s;
  return m + "\0"s;
}

testing::FamilySamples Collect(PostfixQueueCollector& c, Clock::duration timeout = 5s) {
  std::atomic<bool> stop{false};
  CollectContext ctx{Deadline::After(timeout), &stop};
  MetricSink sink(c.Describe());
  EXPECT_TRUE(c.Collect(ctx, sink).ok());
  return testing::SamplesByFamily(testing::TakeChecked(sink));
}

std::string TempSocket(const char* name) { return ::testing::TempDir() + "/" + name + std::to_string(::getpid()); }

PostfixQueueCollector::Options One(const std::string& showq) {
  PostfixQueueCollector::Options o;
  o.instances = {{"postfix", showq, ""}};
  return o;
}

TEST(PostfixQueueCollectorTest, CountsBytesAgesAndReasonsPerQueue) {
  // Ages stay clear of the bucket bounds: the collector reads the clock after
  // the test did, a second later on a loaded machine.
  const int64_t now = Now();
  std::string stream =
      "protocol\0mail_queue_list_protocol\0\0"s +
      Message("deferred", now - 7190, 1000,
              {"connect to x[192.0.2.1]:25: Connection refused", "host x said: 450 4.7.1 Greylisted"}) +
      Message("deferred", now - 120, 500, {"Host or domain name not found. Name service error"}) +
      Message("hold", now - 30, 250, {""}) + Message("active", now, 10, {""}) + "\0"s;
  FakeServer server(TempSocket("showq-ok"),
                    [&](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, stream); });
  PostfixQueueCollector c(One(server.address()));
  auto s = Collect(c);
  const std::string d = "postfix_instance=postfix,queue=deferred";
  EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=postfix"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][d], 2);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][d], 1500);
  EXPECT_EQ(s["mailstack_postfix_queue_recipients"][d], 3);
  EXPECT_GE(s["mailstack_postfix_queue_oldest_message_age_seconds"][d], 7190);
  EXPECT_LT(s["mailstack_postfix_queue_oldest_message_age_seconds"][d], 7200);
  EXPECT_EQ(s["mailstack_postfix_queue_message_age_seconds_count"][d], 2);
  EXPECT_EQ(s["mailstack_postfix_queue_message_age_seconds_bucket"][d + ",le=60"], 0);
  EXPECT_EQ(s["mailstack_postfix_queue_message_age_seconds_bucket"][d + ",le=300"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_message_age_seconds_bucket"][d + ",le=3600"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_message_age_seconds_bucket"][d + ",le=7200"], 2);
  EXPECT_GE(s["mailstack_postfix_queue_message_age_seconds_sum"][d], 7310);
  EXPECT_LT(s["mailstack_postfix_queue_message_age_seconds_sum"][d], 7330);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"]["postfix_instance=postfix,queue=hold"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"]["postfix_instance=postfix,queue=hold"], 250);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"]["postfix_instance=postfix,queue=active"], 1);
  // Empty queues are zero-filled, their oldest age is 0.
  EXPECT_EQ(s["mailstack_postfix_queue_messages"]["postfix_instance=postfix,queue=incoming"], 0);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"]["postfix_instance=postfix,queue=maildrop"], 0);
  EXPECT_EQ(s["mailstack_postfix_queue_oldest_message_age_seconds"]["postfix_instance=postfix,queue=maildrop"], 0);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"].size(), 5u);
  const std::string r = "postfix_instance=postfix,reason=";
  EXPECT_EQ(s["mailstack_postfix_queue_deferred_recipients"][r + "connection"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_deferred_recipients"][r + "remote_4xx"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_deferred_recipients"][r + "dns"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_deferred_recipients"][r + "other"], 0);
  EXPECT_EQ(s["mailstack_postfix_queue_deferred_recipients"].size(), 7u);
}

TEST(PostfixQueueCollectorTest, ShowqOverTcp) {
  std::string stream = Message("deferred", Now() - 10, 42, {"x"}) + "\0"s;
  FakeServer server("", [&](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, stream); });
  PostfixQueueCollector c(One(server.address()));
  auto s = Collect(c);
  EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=postfix"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"]["postfix_instance=postfix,queue=deferred"], 42);
}

// showq writes one record per system call, and the reader paces itself
// between timer-driven drains and poll() when the peer goes quiet: neither the
// peer blocking on a full socket buffer (20,000 records written flat out) nor
// pauses longer than the switch to poll() (40 ms) may lose or reorder a byte.
TEST(PostfixQueueCollectorTest, RecordsWrittenOneByOneInBurstsAndPausesAllCount) {
  const int64_t now = Now();
  FakeServer server(TempSocket("showq-bursts"), [&](int fd, const std::atomic<bool>& stop) {
    if (!FakeServer::WriteAll(fd, "protocol\0mail_queue_list_protocol\0\0"s)) return;
    for (int burst = 0; burst < 4 && !stop; ++burst) {
      const int records = burst == 0 ? 20000 : 50;
      for (int i = 0; i < records; ++i) {
        if (!FakeServer::WriteAll(fd, Message("deferred", now - 100 - burst, 10 + burst, {"x"}))) return;
      }
      std::this_thread::sleep_for(40ms);
    }
    FakeServer::WriteAll(fd, "\0"s);
  });
  PostfixQueueCollector c(One(server.address()));
  auto s = Collect(c, 10s);
  const std::string d = "postfix_instance=postfix,queue=deferred";
  EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=postfix"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][d], 20150);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][d], 20000 * 10 + 50 * (11 + 12 + 13));
  EXPECT_EQ(s["mailstack_postfix_queue_recipients"][d], 20150);
}

// The reader is not on the socket's wait queue while records flow: a peer
// writing one record per system call (as showq does) does not wake it once
// per record. A reader blocked in recv()/poll() is woken, and switches out
// again, for nearly every one of the 3,000 records; the paced reader sleeps
// about once per 4 KiB (~25 records) or 2 ms.
// The writer keeps a fixed schedule (one record every 100 us from its start,
// catching up when it was late) rather than sleeping between writes: on a
// loaded machine each relative sleep would add a wakeup latency and stretch
// the stream, and the paced reader's timer would then fire more often.
TEST(PostfixQueueCollectorTest, ShowqReaderIsNotWokenByEveryRecord) {
  constexpr int kRecords = 3000;
  const std::string m = Message("active", Now() - 5, 1, {""});
  FakeServer server(TempSocket("showq-paced"), [&](int fd, const std::atomic<bool>& stop) {
    const auto start = Clock::now();
    for (int i = 0; i < kRecords && !stop; ++i) {
      std::this_thread::sleep_until(start + i * 100us);
      if (!FakeServer::WriteAll(fd, m)) return;
    }
    FakeServer::WriteAll(fd, "\0"s);
  });
  PostfixQueueCollector c(One(server.address()));
  rusage before{}, after{};
  ::getrusage(RUSAGE_THREAD, &before);
  auto s = Collect(c, 20s);
  ::getrusage(RUSAGE_THREAD, &after);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"]["postfix_instance=postfix,queue=active"], kRecords);
  const long switches = after.ru_nvcsw - before.ru_nvcsw;
  EXPECT_LT(switches, kRecords / 4) << "the reader waited for (nearly) every record";
  EXPECT_GT(switches, 10) << "the reader never slept: spinning?";
}

// A stop request (exporter shutting down) ends a read from a silent showq long
// before its deadline.
TEST(PostfixQueueCollectorTest, StopEndsAReadFromASilentPeer) {
  FakeServer server(TempSocket("showq-silent"), [](int, const std::atomic<bool>& stop) {
    while (!stop) std::this_thread::sleep_for(5ms);
  });
  PostfixQueueCollector c(One(server.address()));
  std::atomic<bool> stop{false};
  CollectContext ctx{Deadline::After(30s), &stop};
  MetricSink sink(c.Describe());
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop = true;
  });
  const auto t0 = Clock::now();
  (void)c.Collect(ctx, sink);  // stopped: the outcome is checked on the samples
  const auto took = Clock::now() - t0;
  stopper.join();
  EXPECT_LT(took, 5s);  // stopped after 100 ms; without the stop it would take 30 s
  EXPECT_EQ(testing::SamplesByFamily(testing::TakeChecked(sink))["mailstack_postfix_up"].at("postfix_instance=postfix"),
            0);
}

// Each failure mode: up 0, no queue samples (no false "queue empty"), the
// run ends by its deadline, and the reason is logged once.
struct Hostile {
  const char* name;
  FakeServer::Behaviour behaviour;
  std::string error_substring;
};

TEST(PostfixQueueCollectorTest, BrokenPeersAreUpZeroByTheDeadline) {
  const Hostile cases[] = {
      {"never_answers",
       [](int, const std::atomic<bool>& stop) {
         while (!stop) std::this_thread::sleep_for(5ms);
       },
       "read: timed out"},
      {"drips_a_byte_every_50ms",
       [](int fd, const std::atomic<bool>& stop) {
         std::string s = Message("deferred", 1, 1, {"x"});
         for (size_t i = 0; i < s.size() && !stop; ++i) {
           if (!FakeServer::WriteAll(fd, s.substr(i, 1))) return;
           std::this_thread::sleep_for(50ms);
         }
       },
       "read: timed out"},
      {"floods_10MB_garbage",
       [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, std::string(10 << 20, 'A')); },
       "attribute longer than 65536 bytes"},
      {"endless_valid_records",
       [](int fd, const std::atomic<bool>& stop) {
         std::string m = Message("active", 1, 1, {""});
         while (!stop && FakeServer::WriteAll(fd, m)) {
         }
       },
       "read: timed out"},
      {"closes_mid_record", [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, "queue_name\0defer"s); },
       "stream ended inside a record (truncated)"},
      {"random_bytes", [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, FakeServer::Junk(4096)); },
       "showq stream: at byte"},
  };
  for (const auto& h : cases) {
    std::vector<std::string> logs;
    std::mutex mu;
    SetLogSinkForTest([&](std::string_view l) {
      std::lock_guard<std::mutex> lock(mu);
      logs.emplace_back(l);
    });
    FakeServer server(TempSocket(h.name), h.behaviour);
    PostfixQueueCollector c(One(server.address()));
    auto t0 = Clock::now();
    auto s = Collect(c, 400ms);
    auto took = Clock::now() - t0;
    // By the 400 ms deadline: a reader that waited per read or for the peer
    // would take 5 s (the dripping peer) or forever; the rest is slack for
    // a loaded machine.
    EXPECT_LT(took, 2s) << h.name;
    EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=postfix"], 0) << h.name;
    EXPECT_TRUE(s["mailstack_postfix_queue_messages"].empty()) << h.name;
    Collect(c, 300ms);  // same error again: not logged again
    SetLogSinkForTest(nullptr);
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(logs.size(), 1u) << h.name;
    EXPECT_NE(logs[0].find("msg=\"cannot read the Postfix queue\" postfix_instance=postfix"), std::string::npos);
    EXPECT_NE(logs[0].find(h.error_substring), std::string::npos) << h.name << ": " << logs[0];
  }
}

TEST(PostfixQueueCollectorTest, MissingSocketAndRecoveryAreLoggedOnce) {
  std::vector<std::string> logs;
  SetLogSinkForTest([&](std::string_view l) { logs.emplace_back(l); });
  const std::string path = TempSocket("showq-later");
  ::unlink(path.c_str());
  PostfixQueueCollector::Options o;
  o.instances = {{"main", path, ""}, {"other", "/nonexistent/dir/showq", ""}};
  PostfixQueueCollector c(o);
  auto s = Collect(c);
  EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=main"], 0);
  EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=other"], 0);
  {
    FakeServer server(path, [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, "\0"s); });
    s = Collect(c);
    EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=main"], 1);
    EXPECT_EQ(s["mailstack_postfix_queue_messages"]["postfix_instance=main,queue=deferred"], 0);
    EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=other"], 0);
  }
  SetLogSinkForTest(nullptr);
  ASSERT_EQ(logs.size(), 3u);
  EXPECT_NE(logs[0].find("postfix_instance=main err=\"connect " + path + ": No such file or directory\""),
            std::string::npos)
      << logs[0];
  EXPECT_NE(logs[1].find("postfix_instance=other err=\"connect /nonexistent/dir/showq: No such file or directory\""),
            std::string::npos)
      << logs[1];
  EXPECT_NE(logs[2].find("msg=\"Postfix queue readable again\" postfix_instance=main"), std::string::npos) << logs[2];
}

TEST(PostfixQueueCollectorTest, OptionErrors) {
  testing::ExpectOptionErrors<PostfixQueueCollector>({
      {"instances: {}", "t.yml:1:12: instances: must be a list (got a map)"},
      {"instances: []", "t.yml:1:12: instances: must list at least one instance"},
      {"instances:\n  - {name: a}", "t.yml:2:5: instances[0]: needs exactly one of showq and queue_directory"},
      {"instances:\n  - {name: a, showq: /a, queue_directory: /b}",
       "t.yml:2:5: instances[0]: needs exactly one of showq and queue_directory"},
      {"instances:\n  - {name: a, queue_directory: var/spool}",
       "t.yml:2:32: instances[0].queue_directory: must be an absolute path (got \"var/spool\")"},
      {"instances:\n  - {name: a, showq: relative/showq}",
       "t.yml:2:22: instances[0].showq: must be an absolute unix socket path or HOST:PORT (got \"relative/showq\")"},
      {"instances:\n  - {name: a, showq: /a}\n  - {name: a, showq: /b}",
       "t.yml:3:12: instances[1].name: duplicate instance name \"a\""},
      {"instances:\n  - {name: a, showq: /a, queue_dir: /x}",
       "t.yml:2:26: instances[0].queue_dir: unknown key (allowed: name, showq, queue_directory)"},
  });
  auto root = ParseYaml(
      "instances:\n  - {name: main, showq: /var/spool/postfix/public/showq}\n"
      "  - {name: out, showq: \"127.0.0.1:10026\"}",
      "t.yml");
  auto o = PostfixQueueCollector::ParseOptions(*root);
  ASSERT_TRUE(o.ok()) << o.status().message();
  ASSERT_EQ(o->instances.size(), 2u);
  EXPECT_EQ(o->instances[1].showq, "127.0.0.1:10026");
}

// Spool mode against a fixture queue_directory built like Postfix's.
class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/spool" + std::to_string(::getpid());
    std::system(("rm -rf " + root_).c_str());
    for (const char* q : {"", "/active", "/deferred", "/deferred/A", "/hold", "/incoming", "/maildrop"}) {
      ASSERT_EQ(::mkdir((root_ + q).c_str(), 0700), 0) << q;
    }
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }

  static std::string Record(char type, const std::string& data) { return testing::QueueFileRecord(type, data); }
  // A queue file: 'C' content size, 'T' arrival, 'S' sender, some content.
  static std::string QueueFile(int64_t size, int64_t arrival) {
    char c[128];
    std::snprintf(c, sizeof c, "%15lld %15d %15d %15d %15lld %15d", static_cast<long long>(size), 693, 1, 0,
                  static_cast<long long>(size), 0);
    return Record('C', c) + Record('T', std::to_string(arrival) + " 495600") +
           Record('A', "create_time=" + std::to_string(arrival)) + Record('S', "a@b.test") + Record('M', "") +
           Record('N', std::string(200, 'x')) + Record('X', "") + Record('E', "");
  }
  void Write(const std::string& rel, const std::string& bytes, mode_t mode, int64_t mtime = 0) {
    std::string path = root_ + "/" + rel;
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr) << path;
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    if (mtime) {
      struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
      ::utimensat(AT_FDCWD, path.c_str(), ts, 0);
    }
  }
  // Collects and keeps the whole-second clock before and after the run: the
  // collector read its `now` in between (a loaded machine may take seconds).
  testing::FamilySamples TimedCollect(PostfixQueueCollector& c) {
    from_ = Now();
    auto s = Collect(c);
    to_ = Now();
    return s;
  }
  // The oldest age of `series`, for a message that arrived at `arrival`, is
  // exact to the clock window of the last TimedCollect.
  void ExpectAge(testing::FamilySamples& s, const std::string& series, int64_t arrival) {
    const double age = s["mailstack_postfix_queue_oldest_message_age_seconds"][series];
    EXPECT_GE(age, from_ - arrival) << series;
    EXPECT_LE(age, to_ - arrival) << series;
  }
  std::string root_;
  int64_t from_ = 0, to_ = 0;
};

TEST_F(SpoolTest, ReadsArrivalAndSizeFromEachFileHead) {
  const int64_t now = Now();
  // A deferred file's mtime is its next retry time: it must not be the age.
  Write("deferred/A/A1B2C3D4E5", QueueFile(2225, now - 7200), 0700, now + 3600);
  Write("deferred/B12345", QueueFile(1000, now - 60), 0700);
  Write("hold/H1", QueueFile(500, now - 86400 * 2), 0700);
  Write("active/X1", QueueFile(10, now), 0700);
  Write("incoming/I1", QueueFile(77, now - 5), 0600);       // still being written: skipped
  Write("incoming/123.456", QueueFile(77, now - 5), 0700);  // not a queue id: skipped
  // maildrop files have no 'C' record: size is the file size; time from 'T'.
  std::string drop = Record('T', std::to_string(now - 30) + " 0") + Record('S', "u");
  Write("maildrop/M1", drop, 0744);
  PostfixQueueCollector::Options o;
  o.instances = {{"spool", "", root_}};
  PostfixQueueCollector c(o);
  auto s = TimedCollect(c);
  const std::string p = "postfix_instance=spool,queue=";
  EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=spool"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "deferred"], 2);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "deferred"], 3225);
  ExpectAge(s, p + "deferred", now - 7200);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "hold"], 1);
  ExpectAge(s, p + "hold", now - 86400 * 2);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "active"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "incoming"], 0);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "maildrop"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "maildrop"], static_cast<double>(drop.size()));
  ExpectAge(s, p + "maildrop", now - 30);
  EXPECT_EQ(s["mailstack_postfix_queue_message_age_seconds_bucket"][p + "deferred,le=3600"], 1);
  // Recipients and reasons need showq (defer logs): not emitted in spool mode.
  EXPECT_TRUE(s["mailstack_postfix_queue_recipients"].empty());
  EXPECT_TRUE(s["mailstack_postfix_queue_deferred_recipients"].empty());
}

TEST_F(SpoolTest, CachedHeadsFollowChangesMovesAndDeletions) {
  const int64_t now = Now();
  Write("deferred/A/AAA1", QueueFile(100, now - 600), 0700);
  Write("deferred/BBB2", QueueFile(200, now - 60), 0700);
  PostfixQueueCollector::Options o;
  o.instances = {{"spool", "", root_}};
  PostfixQueueCollector c(o);
  const std::string p = "postfix_instance=spool,queue=";
  auto s = TimedCollect(c);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "deferred"], 300);
  // Unchanged files come from the cache and give the same numbers.
  s = TimedCollect(c);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "deferred"], 300);
  ExpectAge(s, p + "deferred", now - 600);
  // Rewritten in place (new content, new ctime), moved to active, deleted.
  Write("deferred/BBB2", QueueFile(999, now - 7200), 0700);
  ASSERT_EQ(::rename((root_ + "/deferred/A/AAA1").c_str(), (root_ + "/active/AAA1").c_str()), 0);
  s = TimedCollect(c);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "deferred"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "deferred"], 999);
  ExpectAge(s, p + "deferred", now - 7200);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "active"], 1);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "active"], 100);
  ASSERT_EQ(::unlink((root_ + "/deferred/BBB2").c_str()), 0);
  s = TimedCollect(c);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "deferred"], 0);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "deferred"], 0);
}

// Files not yet cached are read in batches (up to 1,024, here by 4 threads)
// that span hash subdirectories and their parent; every
// file is counted once, with its own size and age, on the first run, from the
// cache on the next, and read again after a rewrite.
TEST_F(SpoolTest, ManyNewFilesAcrossHashDirectoriesCountExactly) {
  const int64_t now = Now();
  for (const char* d : {"deferred/B", "deferred/C", "deferred/D"})
    ASSERT_EQ(::mkdir((root_ + "/" + d).c_str(), 0700), 0);
  const char* dirs[] = {"deferred/A/", "deferred/B/", "deferred/C/", "deferred/D/", "deferred/"};
  int64_t bytes = 0, files = 0;
  // 1,200 in deferred/ itself: more than one batch (1,024) in one directory.
  auto dir_of = [&](int i) { return std::string(i < 1200 ? dirs[4] : dirs[i % 4]); };
  for (int i = 0; i < 2500; ++i) {
    const std::string id = "Q" + std::to_string(100000 + i);
    Write(dir_of(i) + id, QueueFile(100 + i, now - 1000 - i), 0700);
    bytes += 100 + i;
    ++files;
  }
  for (int i = 0; i < 300; ++i) Write("hold/H" + std::to_string(i), QueueFile(7, now - 50), i % 3 ? 0700 : 0600);
  // Named like queue ids, but no queue files: a FIFO, a symlink and a socket.
  ASSERT_EQ(::mkfifo((root_ + "/deferred/A/FIFO1").c_str(), 0700), 0);
  ASSERT_EQ(::symlink((root_ + "/hold/H1").c_str(), (root_ + "/deferred/LINK1").c_str()), 0);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::snprintf(un.sun_path, sizeof un.sun_path, "%s/deferred/B/SOCK1", root_.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&un), sizeof un), 0) << un.sun_path;
  ::close(sock);
  PostfixQueueCollector::Options o;
  o.instances = {{"spool", "", root_}};
  o.spool_readers = 4;  // threads, whatever the CPUs of the test host
  PostfixQueueCollector c(o);
  const std::string p = "postfix_instance=spool,queue=";
  for (int run = 0; run < 2; ++run) {
    auto s = TimedCollect(c);
    EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=spool"], 1) << run;
    EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "deferred"], files) << run;
    EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "deferred"], bytes) << run;
    ExpectAge(s, p + "deferred", now - 1000 - 2499);
    EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "hold"], 200) << run;
    EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "hold"], 1400) << run;
  }
  // Every other deferred file rewritten (new ctime): read again, the rest from the cache.
  for (int i = 0; i < 2500; i += 2) {
    Write(dir_of(i) + ("Q" + std::to_string(100000 + i)), QueueFile(1, now - 10), 0700);
    bytes -= 100 + i - 1;
  }
  auto s = TimedCollect(c);
  EXPECT_EQ(s["mailstack_postfix_queue_messages"][p + "deferred"], files);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "deferred"], bytes);
  ExpectAge(s, p + "deferred", now - 1000 - 2499);
}

TEST_F(SpoolTest, MissingQueueDirectoryIsUpZero) {
  std::vector<std::string> logs;
  SetLogSinkForTest([&](std::string_view l) { logs.emplace_back(l); });
  PostfixQueueCollector::Options o;
  o.instances = {{"spool", "", root_ + "/nope"}};
  PostfixQueueCollector c(o);
  auto s = Collect(c);
  SetLogSinkForTest(nullptr);
  EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=spool"], 0);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("err=\"spool " + root_ + "/nope/active: No such file or directory\""), std::string::npos)
      << logs[0];
}

// A reload that changes the section hands the head cache of an instance
// reading the same queue_directory, and the problems already logged, to the
// new collector; an instance whose directory changed starts afresh.
TEST_F(SpoolTest, AReplacedCollectorTakesOverHeadCachesAndLoggedProblems) {
  const int64_t now = Now();
  Write("deferred/A/AAA1", QueueFile(100, now - 600), 0700);
  Write("hold/HHH1", QueueFile(200, now - 60), 0700);
  std::vector<std::string> logs;
  SetLogSinkForTest([&](std::string_view l) { logs.emplace_back(l); });
  PostfixQueueCollector::Options before;
  before.instances = {{"spool", "", root_}, {"moved", "", root_}, {"gone", "/nonexistent/dir/showq", ""}};
  PostfixQueueCollector old_collector(before);
  auto s = Collect(old_collector);
  EXPECT_EQ(s["mailstack_postfix_up"]["postfix_instance=gone"], 0);
  EXPECT_EQ(old_collector.CachedHeads("spool"), 2u);
  EXPECT_EQ(old_collector.CachedHeads("moved"), 2u);
  ASSERT_EQ(logs.size(), 1u);

  PostfixQueueCollector::Options after;
  after.instances = {{"spool", "", root_},
                     {"moved", "", root_ + "/."},  // another queue_directory string: not the same cache
                     {"gone", "/nonexistent/dir/showq", ""},
                     {"new", "", root_}};
  PostfixQueueCollector successor(after);
  successor.TakeStateFrom(old_collector);
  EXPECT_EQ(successor.CachedHeads("spool"), 2u);
  EXPECT_EQ(successor.CachedHeads("moved"), 0u);
  EXPECT_EQ(successor.CachedHeads("new"), 0u);
  s = Collect(successor);
  const std::string p = "postfix_instance=spool,queue=";
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "deferred"], 100);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"][p + "hold"], 200);
  EXPECT_EQ(s["mailstack_postfix_queue_size_bytes"]["postfix_instance=new,queue=hold"], 200);
  EXPECT_EQ(successor.CachedHeads("spool"), 2u);
  SetLogSinkForTest(nullptr);
  // "gone" was already logged by the old collector: not again after the reload.
  EXPECT_EQ(logs.size(), 1u) << (logs.size() > 1 ? logs[1] : "");

  // Another class hands over nothing (and does not crash).
  PostfixQueueCollector fresh(after);
  struct Other final : Collector {
    std::vector<MetricDesc> Describe() const override { return {}; }
    Status Collect(const CollectContext&, MetricSink&) override { return Status::Ok(); }
  } other;
  fresh.TakeStateFrom(other);
  EXPECT_EQ(fresh.CachedHeads("spool"), 0u);
}

}  // namespace
}  // namespace mailstack
