// The head of a Postfix queue file (src/global/record.c, rec_type.h): records
// of a type byte, a LEB128 length and data. The first 'C' record holds
// "content_size data_offset rcpt_count ..." and the first 'T' record
// "seconds microseconds" of arrival. showq reports exactly these; the spool
// walk reads them from the first few hundred bytes of each file.
#pragma once

#include <cstdint>
#include <string_view>

namespace mailstack::parse {

struct QueueFileHead {
  bool has_size = false;
  int64_t content_size = 0;  // first field of 'C'
  bool has_time = false;
  int64_t arrival_time = 0;  // seconds of the first 'T' (> 0)
};

// Parses what it can from the first bytes of a queue file; stops at the
// sender ('S') or content ('M') record, at a pointer record ('p': edits chained
// elsewhere), or where `head` ends. Never fails: missing fields stay unset.
QueueFileHead ParseQueueFileHead(std::string_view head);

}  // namespace mailstack::parse
