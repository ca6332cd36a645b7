// Follows one log file across rotations and hands out complete lines, for the
// logs collector. No line is lost or given twice across the rotations that
// logrotate and syslog daemons do:
// - rename + create (logrotate's default) and delete + recreate: the old file
//   stays open and is read to its end (also what its writer still appends
//   until it reopens) before it is closed; the new file is read from its
//   start;
// - copytruncate: what was appended after the last read and before the copy
//   is read from the copy (the path plus one of `rotated_suffixes`, found by
//   its first bytes and size), then the truncated file from its start; what
//   the writer added between copy and truncate is lost by copytruncate itself;
// - a briefly missing file: the open file is kept and the path retried.
// A line is handed out once its newline is read. A last line without its
// newline waits for it; it is handed out without one only when its file is
// closed for good (rotated away and drained). Lines over `max_line_bytes` are
// cut there and flagged, the rest up to the newline skipped.
// Reads are bounded by a byte budget and a deadline: a backlog is caught up
// over several calls. Not thread-safe: one collector run at a time.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/deadline.h"
#include "collectors/core/status.h"

namespace mailstack::logs {

struct TailOptions {
  std::string path;
  // Where a file is read from when the path exists on the first Poll: its
  // end (only new lines) or its start. A file that appears later (created
  // or rotated in) is always read from its start.
  bool start_at_end = true;
  size_t max_line_bytes = 64 * 1024;
  // Where copytruncate leaves the copy: path + suffix.
  std::vector<std::string> rotated_suffixes = {".1"};
};

class FileTailer {
 public:
  // A line without its newline; `truncated` if it was cut at max_line_bytes.
  using LineFn = std::function<void(std::string_view line, bool truncated)>;

  explicit FileTailer(TailOptions options);
  ~FileTailer();
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  // Reads what was appended since the last call, at most `byte_budget` bytes
  // and not past `deadline`, and calls `on_line` for every complete line.
  // OK while the file (or the one being drained) can be read, even if the
  // path is briefly missing; otherwise why not ("open /x: Permission
  // denied", "/x is a directory", "open /x: No such file or directory"),
  // and the next call retries. Position, partial lines and counters survive
  // a failed call.
  Status Poll(size_t byte_budget, const Deadline& deadline, const LineFn& on_line);

  // The last Poll read everything there was (not stopped by budget or deadline).
  bool caught_up() const { return caught_up_; }
  // Rotations seen: a new file at the path, or the file truncated.
  uint64_t rotations() const { return rotations_; }
  // Bytes read from the files in total.
  uint64_t bytes_read() const { return bytes_read_; }
  const TailOptions& options() const { return options_; }

 private:
  struct Reader;
  enum class ReadEnd { kEof, kBudget, kDeadline, kError };

  Status OpenCurrent(bool first_open);
  ReadEnd Drain(Reader& r, size_t* budget, const Deadline& deadline, const LineFn& on_line);
  void Consume(Reader& r, const char* data, size_t n, const LineFn& on_line);
  static void Flush(Reader& r, const LineFn& on_line);
  void CatchUpFromCopy(Reader& r, const LineFn& on_line);
  bool Truncated(const Reader& r, off_t size) const;
  void HandleTruncation(Reader& r, const LineFn& on_line);
  Status CheckPath(const LineFn& on_line, bool* reopened);
  void ClosePrevious(const LineFn& on_line);

  TailOptions options_;
  std::unique_ptr<Reader> current_;
  std::unique_ptr<Reader> previous_;  // rotated away, read until its writer is done
  bool first_poll_ = true;
  bool opened_once_ = false;
  bool path_existed_at_start_ = false;
  bool caught_up_ = false;
  uint64_t rotations_ = 0;
  uint64_t bytes_read_ = 0;
  std::unique_ptr<char[]> buf_;
};

}  // namespace mailstack::logs
