// Streaming parser of Postfix's showq attribute stream (public/showq, the
// stream `postqueue -j` reads): NUL-terminated "name\0value\0" pairs, a lone
// NUL ends a record; the first record may be the protocol announcement
// "protocol\0mail_queue_list_protocol\0\0", and an empty record (a lone
// NUL) ends the listing, so truncation is detectable. Memory does not grow with the
// queue: one message is summarized at a time and handed to a callback.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "collectors/core/status.h"

namespace mailstack::parse {

enum class Queue { kActive = 0, kDeferred, kHold, kIncoming, kMaildrop };
inline constexpr size_t kQueueCount = 5;
inline constexpr std::array<std::string_view, kQueueCount> kQueueNames = {"active", "deferred", "hold", "incoming",
                                                                          "maildrop"};

// Classes of showq's per-recipient delay reason (deferred mail): a small,
// fixed set, so it can be a label.
enum class DeferReason { kConnection = 0, kDns, kTls, kMailboxFull, kRemote4xx, kTransport, kOther };
inline constexpr size_t kDeferReasonCount = 7;
inline constexpr std::array<std::string_view, kDeferReasonCount> kDeferReasonNames = {
    "connection", "dns", "tls", "mailbox_full", "remote_4xx", "transport", "other"};
DeferReason ClassifyDeferReason(std::string_view reason);

struct ShowqMessage {
  Queue queue = Queue::kActive;
  int64_t arrival_time = 0;  // Unix seconds
  int64_t size = 0;          // bytes
  uint32_t recipients = 0;
  // Recipients with a non-empty reason, by class.
  std::array<uint32_t, kDeferReasonCount> reasons{};
};

class ShowqParser {
 public:
  static constexpr size_t kMaxToken = 64 * 1024;  // longer names/values are garbage
  using Callback = std::function<void(const ShowqMessage&)>;

  explicit ShowqParser(Callback on_message) : on_message_(std::move(on_message)) {}

  // Feeds the next bytes; errors name what was wrong and the byte offset
  // where the offending token began (for a bad attribute, its value; for a
  // bad record, its end marker; Finish: the end of the stream), so the
  // same bytes give the same message however they were split into reads.
  // After an error the parser must not be fed again.
  Status Feed(std::string_view data);
  // The peer closed the stream: OK only after the end-of-listing marker.
  Status Finish() const;
  uint64_t messages() const { return messages_; }

 private:
  Status OnToken(std::string_view token);
  Status OnAttribute(std::string_view name, std::string_view value);
  Status EndRecord();
  Status Error(const std::string& what) const;  // at token_start_
  static Status ErrorAt(uint64_t offset, const std::string& what);

  Callback on_message_;
  uint64_t offset_ = 0;        // bytes consumed so far
  uint64_t token_start_ = 0;   // offset of the token being read
  bool expect_value_ = false;  // the next token is a value
  std::string token_;          // partial token across Feed calls
  std::string name_;           // attribute name waiting for its value
  bool record_open_ = false;
  bool first_record_ = true;
  bool protocol_record_ = false;
  bool ended_ = false;  // the end-of-listing marker was seen
  bool has_queue_ = false, has_time_ = false, has_size_ = false;
  ShowqMessage msg_;
  uint64_t messages_ = 0;
  std::string last_reason_;  // memo of the last classified reason
  DeferReason last_class_ = DeferReason::kOther;
};

}  // namespace mailstack::parse
