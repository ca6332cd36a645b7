#include "collectors/parse/showq_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailstack::parse {
namespace {

using namespace std::string_literals;

// Bytes as Postfix 3.7's showq sent them (captured from the lab's Postfix),
// two messages: one deferred with two recipients, one held.
const std::string kCapture =
    "protocol\0mail_queue_list_protocol\0\0"s
    "queue_name\0deferred\0queue_id\0"
    "80E1A114053\0time\0"
    "1795390777\0size\0"
    "2225\0forced_expire\0"
    "0\0"
    "sender\0filler@example.test\0recipient\0fill-d-3@defer.test\0reason\0deferred transport\0"
    "recipient\0b@remote.test\0reason\0connect to mx.remote.test[192.0.2.1]:25: Connection refused\0\0"s
    "queue_name\0hold\0queue_id\0"
    "7B35511404A\0time\0"
    "1795390700\0size\0"
    "1000\0forced_expire\0"
    "0\0"
    "sender\0\0recipient\0x@example.test\0reason\0\0\0"s
    "\0"s;

std::vector<ShowqMessage> ParseAll(const std::string& bytes, Status* status, size_t chunk = 0) {
  std::vector<ShowqMessage> out;
  ShowqParser p([&](const ShowqMessage& m) { out.push_back(m); });
  Status s;
  if (chunk == 0) {
    s = p.Feed(bytes);
  } else {
    for (size_t i = 0; i < bytes.size() && s.ok(); i += chunk) s = p.Feed(std::string_view(bytes).substr(i, chunk));
  }
  if (s.ok()) s = p.Finish();
  *status = s;
  return out;
}

TEST(ShowqParserTest, ParsesARealCapture) {
  Status s;
  auto msgs = ParseAll(kCapture, &s);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].queue, Queue::kDeferred);
  EXPECT_EQ(msgs[0].arrival_time, 1795390777);
  EXPECT_EQ(msgs[0].size, 2225);
  EXPECT_EQ(msgs[0].recipients, 2u);
  EXPECT_EQ(msgs[0].reasons[static_cast<size_t>(DeferReason::kTransport)], 1u);
  EXPECT_EQ(msgs[0].reasons[static_cast<size_t>(DeferReason::kConnection)], 1u);
  EXPECT_EQ(msgs[1].queue, Queue::kHold);
  EXPECT_EQ(msgs[1].arrival_time, 1795390700);
  EXPECT_EQ(msgs[1].size, 1000);
  EXPECT_EQ(msgs[1].recipients, 1u);
  for (auto r : msgs[1].reasons) EXPECT_EQ(r, 0u);  // empty reason is not counted
}

TEST(ShowqParserTest, AnySplitOfTheStreamGivesTheSameResult) {
  for (size_t chunk = 1; chunk <= 17; ++chunk) {
    Status s;
    auto msgs = ParseAll(kCapture, &s, chunk);
    ASSERT_TRUE(s.ok()) << "chunk " << chunk << ": " << s.message();
    ASSERT_EQ(msgs.size(), 2u) << chunk;
    EXPECT_EQ(msgs[0].size, 2225);
    EXPECT_EQ(msgs[1].arrival_time, 1795390700);
  }
}

TEST(ShowqParserTest, EmptyQueueAndNoAnnouncement) {
  Status s;
  EXPECT_TRUE(ParseAll("protocol\0mail_queue_list_protocol\0\0\0"s, &s).empty());
  EXPECT_TRUE(s.ok()) << s.message();
  // Older Postfix versions send no protocol announcement.
  auto msgs = ParseAll(
      "queue_name\0active\0time\0"
      "5\0size\0"
      "7\0\0\0"s,
      &s);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].queue, Queue::kActive);
}

struct BadCase {
  const char* name;
  std::string bytes;
  std::string message;
};

TEST(ShowqParserTest, GarbageAndTruncationAreErrors) {
  const BadCase cases[] = {
      {"no_bytes", "", "showq stream: at byte 0: stream ended without the end-of-listing marker (truncated)"},
      {"cut_mid_value", kCapture.substr(0, 60), "showq stream: at byte 60: stream ended inside a record (truncated)"},
      {"cut_at_record_boundary", kCapture.substr(0, kCapture.size() - 1),
       "showq stream: at byte 414: stream ended without the end-of-listing marker (truncated)"},
      {"http_garbage", "HTTP/1.1 400 Bad Request\r\n\r\n",
       "showq stream: at byte 28: stream ended inside a record (truncated)"},
      {"huge_token", std::string(70000, 'A'),
       "showq stream: at byte 0: attribute longer than 65536 bytes (not a showq stream?)"},
      {"wrong_protocol", "protocol\0smtp\0\0"s, "showq stream: at byte 9: unexpected protocol \"smtp\""},
      {"late_protocol",
       "queue_name\0active\0time\0"
       "1\0size\0"
       "1\0\0protocol\0mail_queue_list_protocol\0\0"s,
       "showq stream: at byte 42: protocol announcement after the first record"},
      {"unknown_queue", "queue_name\0corrupt\0\0"s, "showq stream: at byte 11: unknown queue \"corrupt\""},
      {"bad_time", "queue_name\0active\0time\0-5\0"s, "showq stream: at byte 23: bad time \"-5\""},
      {"huge_size",
       "queue_name\0active\0time\0"
       "1\0size\0"
       "99999999999999999999\0"s,
       "showq stream: at byte 30: bad size \"99999999999999999999\""},
      {"missing_size",
       "queue_name\0active\0time\0"
       "1\0\0"s,
       "showq stream: at byte 25: message record without size"},
      {"missing_queue",
       "time\0"
       "1\0size\0"
       "2\0\0"s,
       "showq stream: at byte 14: message record without queue_name"},
      {"data_after_end", "\0queue_name\0"s, "showq stream: at byte 1: data after the end of the queue listing"},
      {"trailing_bytes_after_end", "\0xyz"s, "showq stream: at byte 1: data after the end of the queue listing"},
  };
  for (const auto& c : cases) {
    // The message names where the bad token began, not where a read ended: a
    // peer that repeats a fault gets the same message (logged once) however
    // the kernel splits its writes.
    for (size_t chunk : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{4096}}) {
      Status s;
      ParseAll(c.bytes, &s, chunk);
      ASSERT_FALSE(s.ok()) << c.name << " in chunks of " << chunk;
      EXPECT_EQ(s.message(), c.message) << c.name << " in chunks of " << chunk;
    }
  }
}

TEST(ShowqParserTest, OverlongTokenIsAnErrorWhetherOrNotItsEndArrivedInTheSameRead) {
  const std::string bytes = "queue_name\0"s + std::string(ShowqParser::kMaxToken + 1, 'a') + "\0\0"s;
  for (size_t chunk : {size_t{0}, size_t{1000}, size_t{65536}}) {
    Status s;
    ParseAll(bytes, &s, chunk);
    EXPECT_EQ(s.message(), "showq stream: at byte 11: attribute longer than 65536 bytes (not a showq stream?)")
        << "chunks of " << chunk;
  }
}

TEST(ShowqParserTest, DeferReasonClasses) {
  const std::pair<const char*, DeferReason> cases[] = {
      {"connect to mx.example.com[192.0.2.1]:25: Connection refused", DeferReason::kConnection},
      {"connect to mx.example.com[192.0.2.1]:25: Connection timed out", DeferReason::kConnection},
      {"lost connection with mx.example.com[192.0.2.1] while receiving the initial server greeting",
       DeferReason::kConnection},
      {"Host or domain name not found. Name service error for name=example.com type=MX: Host not found, try again",
       DeferReason::kDns},
      {"TLS is required, but was not offered by host mx.example.com[192.0.2.1]", DeferReason::kTls},
      {"Server certificate not verified", DeferReason::kTls},
      {"host mx.example.com[192.0.2.1] said: 450 4.7.1 Greylisted, try again later (in reply to RCPT TO command)",
       DeferReason::kRemote4xx},
      {"host mx.example.com[192.0.2.1] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command)",
       DeferReason::kMailboxFull},
      {"host mx.example.com[192.0.2.1] said: 452 4.3.1 Insufficient system storage", DeferReason::kMailboxFull},
      {"deferred transport", DeferReason::kTransport},
      {"mail transport unavailable", DeferReason::kTransport},
      {"delivery temporarily suspended: connect to mx.example.com[192.0.2.1]:25: Connection refused",
       DeferReason::kConnection},
      {"something nobody expected", DeferReason::kOther},
  };
  for (const auto& [text, want] : cases) {
    EXPECT_EQ(kDeferReasonNames[static_cast<size_t>(ClassifyDeferReason(text))],
              kDeferReasonNames[static_cast<size_t>(want)])
        << text;
  }
}

}  // namespace
}  // namespace mailstack::parse
