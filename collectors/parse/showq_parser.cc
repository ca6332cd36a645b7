#include "collectors/parse/showq_parser.h"

#include <cstring>

namespace mailstack::parse {
namespace {

bool ParseCount(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  // Case-insensitive: reasons come from remote servers in any case.
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (strncasecmp(haystack.data() + i, needle.data(), needle.size()) == 0) return true;
  }
  return false;
}

bool ContainsAny(std::string_view s, std::initializer_list<std::string_view> needles) {
  for (auto n : needles) {
    if (Contains(s, n)) return true;
  }
  return false;
}

}  // namespace

DeferReason ClassifyDeferReason(std::string_view r) {
  // Order matters: a remote "452 4.2.2 Mailbox full" is mailbox_full, not 4xx;
  // "TLS is required, but was not offered" is tls, not connection.
  if (ContainsAny(r, {"mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage",
                      "insufficient system storage", "4.2.2"})) {
    return DeferReason::kMailboxFull;
  }
  if (ContainsAny(r, {"TLS", "SSL", "certificate", "handshake"})) return DeferReason::kTls;
  if (ContainsAny(r, {"Host or domain name not found", "Name service error", "no MX host", "DNS", "Domain not found",
                      "type=MX", "type=A", "type=AAAA", "lookup failure"})) {
    return DeferReason::kDns;
  }
  if (ContainsAny(r, {" said: 4", "refused to talk to me: 4"})) return DeferReason::kRemote4xx;
  if (ContainsAny(
          r, {"Connection refused", "Connection timed out", "connect to", "No route to host", "Network is unreachable",
              "lost connection", "conversation with", "timed out while", "Connection reset"})) {
    return DeferReason::kConnection;
  }
  if (ContainsAny(r, {"deferred transport", "transport unavailable", "delivery temporarily suspended",
                      "unknown mail transport", "service unavailable"})) {
    return DeferReason::kTransport;
  }
  return DeferReason::kOther;
}

Status ShowqParser::ErrorAt(uint64_t offset, const std::string& what) {
  return Status::InvalidArgument("showq stream: at byte " + std::to_string(offset) + ": " + what);
}

Status ShowqParser::Error(const std::string& what) const { return ErrorAt(token_start_, what); }

Status ShowqParser::Feed(std::string_view data) {
  // Errors name token_start_, where the token began, and every check looks at
  // the whole token so far: the same bytes give the same result however the
  // peer's writes and our reads split them.
  while (!data.empty()) {
    const void* nul = std::memchr(data.data(), '\0', data.size());
    const size_t n = nul == nullptr ? data.size() : static_cast<size_t>(static_cast<const char*>(nul) - data.data());
    if (ended_) return Error("data after the end of the queue listing");
    if (token_.size() + n > kMaxToken) {
      return Error("attribute longer than " + std::to_string(kMaxToken) + " bytes (not a showq stream?)");
    }
    if (nul == nullptr) {
      token_.append(data);
      offset_ += n;
      return Status::Ok();
    }
    std::string_view piece = data.substr(0, n);
    offset_ += n + 1;
    Status s;
    if (token_.empty()) {
      s = OnToken(piece);
    } else {
      token_.append(piece);
      s = OnToken(token_);
      token_.clear();
    }
    if (!s.ok()) return s;
    token_start_ = offset_;
    data.remove_prefix(n + 1);
  }
  return Status::Ok();
}

Status ShowqParser::OnToken(std::string_view token) {
  if (expect_value_) {
    expect_value_ = false;
    return OnAttribute(name_, token);
  }
  if (token.empty()) return EndRecord();
  record_open_ = true;
  name_.assign(token);
  expect_value_ = true;
  return Status::Ok();
}

Status ShowqParser::OnAttribute(std::string_view name, std::string_view value) {
  if (name == "protocol") {
    if (!first_record_) return Error("protocol announcement after the first record");
    if (value != "mail_queue_list_protocol") return Error("unexpected protocol \"" + std::string(value) + "\"");
    protocol_record_ = true;
    return Status::Ok();
  }
  if (protocol_record_) return Error("unexpected attribute in the protocol announcement");
  if (name == "queue_name") {
    for (size_t q = 0; q < kQueueCount; ++q) {
      if (value == kQueueNames[q]) {
        msg_.queue = static_cast<Queue>(q);
        has_queue_ = true;
        return Status::Ok();
      }
    }
    return Error("unknown queue \"" + std::string(value.substr(0, 64)) + "\"");
  }
  if (name == "time") {
    if (!ParseCount(value, &msg_.arrival_time)) return Error("bad time \"" + std::string(value.substr(0, 64)) + "\"");
    has_time_ = true;
    return Status::Ok();
  }
  if (name == "size") {
    if (!ParseCount(value, &msg_.size)) return Error("bad size \"" + std::string(value.substr(0, 64)) + "\"");
    has_size_ = true;
    return Status::Ok();
  }
  if (name == "recipient") {
    ++msg_.recipients;
    return Status::Ok();
  }
  if (name == "reason") {
    if (value.empty()) return Status::Ok();
    // Deferred mail to one destination shares one reason: classify each
    // distinct text once, not once per recipient.
    if (value != last_reason_) {
      last_reason_.assign(value);
      last_class_ = ClassifyDeferReason(value);
    }
    ++msg_.reasons[static_cast<size_t>(last_class_)];
    return Status::Ok();
  }
  // queue_id, sender, forced_expire and attributes of newer Postfix versions
  // are not needed (and ids and addresses must never become labels).
  return Status::Ok();
}

Status ShowqParser::EndRecord() {
  if (!record_open_) {
    // An empty record ends the listing (showq's end marker).
    ended_ = true;
    return Status::Ok();
  }
  const bool was_protocol = protocol_record_;
  record_open_ = false;
  first_record_ = false;
  protocol_record_ = false;
  if (!was_protocol) {
    if (!has_queue_ || !has_time_ || !has_size_) {
      return Error(std::string("message record without ") + (!has_queue_  ? "queue_name"
                                                             : !has_time_ ? "time"
                                                                          : "size"));
    }
    ++messages_;
    on_message_(msg_);
  }
  has_queue_ = has_time_ = has_size_ = false;
  msg_ = ShowqMessage();
  return Status::Ok();
}

Status ShowqParser::Finish() const {
  if (record_open_ || expect_value_ || !token_.empty()) {
    return ErrorAt(offset_, "stream ended inside a record (truncated)");
  }
  if (!ended_) return ErrorAt(offset_, "stream ended without the end-of-listing marker (truncated)");
  return Status::Ok();
}

}  // namespace mailstack::parse
