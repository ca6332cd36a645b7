#include "collectors/parse/queue_file.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/queue_file_record.h"

namespace mailstack::parse {
namespace {

using namespace std::string_literals;

std::string Rec(char type, const std::string& data) { return testing::QueueFileRecord(type, data); }

TEST(QueueFileTest, ReadsSizeAndArrivalLikeShowq) {
  // Bytes as in the lab's deferred/7/7B35511404A.
  std::string head =
      Rec('C', "           2225             693               1               0            2225               0") +
      Rec('T', "1795390777 495600") + Rec('A', "create_time=1795390777") + Rec('S', "filler@example.test");
  auto h = ParseQueueFileHead(head);
  EXPECT_TRUE(h.has_size);
  EXPECT_EQ(h.content_size, 2225);
  EXPECT_TRUE(h.has_time);
  EXPECT_EQ(h.arrival_time, 1795390777);
}

TEST(QueueFileTest, MissingOrBadFieldsStayUnset) {
  struct Case {
    const char* name;
    std::string head;
    bool has_size, has_time;
    int64_t size, time;
  };
  const Case cases[] = {
      {"empty", "", false, false, 0, 0},
      {"maildrop_no_C", Rec('T', "1700000000 0") + Rec('S', "u"), false, true, 0, 1700000000},
      {"zero_time_means_mtime", Rec('C', "5 1 1 0 5 0") + Rec('T', "0 0"), true, false, 5, 0},
      {"C_with_letters_ignored", Rec('C', "12x") + Rec('T', "5 0"), false, true, 0, 5},
      {"stops_at_sender", Rec('S', "a") + Rec('T', "9 0"), false, false, 0, 0},
      {"stops_at_pointer", Rec('p', "            123") + Rec('T', "9 0"), false, false, 0, 0},
      {"truncated_length", "C\xff\xff"s, false, false, 0, 0},
      {"length_past_end",
       "C\x10"
       "12"s,
       false, false, 0, 0},
      {"first_T_wins", Rec('T', "100 0") + Rec('T', "200 0"), false, true, 0, 100},
      {"long_C_record_varint", Rec('C', std::string(200, ' ') + "42") + Rec('T', "7 0"), true, true, 42, 7},
  };
  for (const auto& c : cases) {
    auto h = ParseQueueFileHead(c.head);
    EXPECT_EQ(h.has_size, c.has_size) << c.name;
    EXPECT_EQ(h.has_time, c.has_time) << c.name;
    if (c.has_size) {
      EXPECT_EQ(h.content_size, c.size) << c.name;
    }
    if (c.has_time) {
      EXPECT_EQ(h.arrival_time, c.time) << c.name;
    }
  }
}

}  // namespace
}  // namespace mailstack::parse
