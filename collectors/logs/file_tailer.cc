#include "collectors/logs/file_tailer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

namespace mailstack::logs {
namespace {

constexpr size_t kBufBytes = 64 * 1024;
constexpr size_t kHeadBytes = 128;  // a file's first bytes: enough to tell two logs apart (timestamps)

// The first `n` bytes of the file, or fewer if it is shorter.
std::string ReadHead(int fd, size_t n) {
  std::string head(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, head.data() + got, n - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  head.resize(got);
  return head;
}

}  // namespace

struct FileTailer::Reader {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t offset = 0;       // bytes consumed from the file
  std::string partial;    // the start of a line whose newline has not come yet
  bool skipping = false;  // past max_line_bytes: skip to the newline
  std::string head;       // the file's first bytes, up to kHeadBytes
  Reader() = default;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() {
    if (fd >= 0) ::close(fd);
  }
};

FileTailer::FileTailer(TailOptions options) : options_(std::move(options)), buf_(std::make_unique<char[]>(kBufBytes)) {
  options_.max_line_bytes = std::max<size_t>(options_.max_line_bytes, 1);
}

FileTailer::~FileTailer() = default;

Status FileTailer::OpenCurrent(bool at_end) {
  const int fd = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return Status::FromErrno("open " + options_.path, errno);
  auto r = std::make_unique<Reader>();
  r->fd = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat " + options_.path, errno);
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument(options_.path + " is a directory");
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(options_.path + " is not a regular file");
  r->dev = st.st_dev;
  r->ino = st.st_ino;
  if (at_end && st.st_size > 0) {
    r->head = ReadHead(fd, kHeadBytes);
    r->offset = ::lseek(fd, st.st_size, SEEK_SET);
    if (r->offset < 0) return Status::FromErrno("seek " + options_.path, errno);
  }
  current_ = std::move(r);
  opened_once_ = true;
  return Status::Ok();
}

void FileTailer::Consume(Reader& r, const char* data, size_t n, const LineFn& on_line) {
  if (r.head.size() < kHeadBytes && static_cast<size_t>(r.offset) == r.head.size()) {
    r.head.append(data, std::min(n, kHeadBytes - r.head.size()));
  }
  r.offset += static_cast<off_t>(n);
  const size_t max = options_.max_line_bytes;
  const char* p = data;
  const char* const end = data + n;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const size_t len = static_cast<size_t>((nl != nullptr ? nl : end) - p);
    if (nl != nullptr && r.partial.empty() && !r.skipping && len <= max) {
      on_line(std::string_view(p, len), false);  // the common case: a whole line in the buffer
      p = nl + 1;
      continue;
    }
    if (!r.skipping) {
      const size_t room = max - r.partial.size();
      r.partial.append(p, std::min(len, room));
      r.skipping = len > room;
    }
    if (nl == nullptr) break;
    on_line(r.partial, r.skipping);
    r.partial.clear();
    r.skipping = false;
    p = nl + 1;
  }
}

void FileTailer::Flush(Reader& r, const LineFn& on_line) {
  if (r.partial.empty() && !r.skipping) return;
  on_line(r.partial, r.skipping);
  r.partial.clear();
  r.skipping = false;
}

FileTailer::ReadEnd FileTailer::Drain(Reader& r, size_t* budget, const Deadline& deadline, const LineFn& on_line) {
  while (true) {
    if (*budget == 0) return ReadEnd::kBudget;
    if (deadline.Expired()) return ReadEnd::kDeadline;
    const ssize_t n = ::read(r.fd, buf_.get(), std::min(kBufBytes, *budget));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return ReadEnd::kEof;
    if (n < 0) return ReadEnd::kError;
    if (n == 0) return ReadEnd::kEof;
    *budget -= static_cast<size_t>(n);
    bytes_read_ += static_cast<uint64_t>(n);
    Consume(r, buf_.get(), static_cast<size_t>(n), on_line);
  }
}

bool FileTailer::Truncated(const Reader& r, off_t size) const {
  if (size < r.offset) return true;
  if (r.head.empty()) return false;
  // Truncated and written past our offset again since the last look: the
  // first bytes tell.
  return ReadHead(r.fd, r.head.size()) != r.head;
}

// copytruncate: the copy holds what was appended between our last read and
// the copy. It is the suffixed file that starts like ours and is at least as
// long as what we read.
void FileTailer::CatchUpFromCopy(Reader& r, const LineFn& on_line) {
  for (const auto& suffix : options_.rotated_suffixes) {
    Reader copy;
    copy.fd = ::open((options_.path + suffix).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (copy.fd < 0) continue;
    struct stat st {};
    if (::fstat(copy.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < r.offset) continue;
    if (r.head.empty() || ReadHead(copy.fd, r.head.size()) != r.head) continue;
    if (::lseek(copy.fd, r.offset, SEEK_SET) != r.offset) continue;
    // Our partial line goes on in the copy.
    copy.partial = std::move(r.partial);
    copy.skipping = r.skipping;
    copy.offset = r.offset;
    copy.head = r.head;
    size_t unlimited = std::numeric_limits<size_t>::max();
    (void)Drain(copy, &unlimited, Deadline::Never(), on_line);
    r.partial = std::move(copy.partial);
    r.skipping = copy.skipping;
    return;
  }
}

void FileTailer::ClosePrevious(const LineFn& on_line) {
  // What its writer appended before moving to the new file is there now.
  size_t unlimited = std::numeric_limits<size_t>::max();
  (void)Drain(*previous_, &unlimited, Deadline::Never(), on_line);
  Flush(*previous_, on_line);
  previous_.reset();
}

// Before reading on: was the open file truncated in place (copytruncate)?
// Then what was appended before the copy comes from the copy, and the file
// is read again from its start.
void FileTailer::HandleTruncation(Reader& r, const LineFn& on_line) {
  struct stat st {};
  if (::fstat(r.fd, &st) != 0 || !Truncated(r, st.st_size)) return;
  ++rotations_;
  CatchUpFromCopy(r, on_line);
  Flush(r, on_line);
  r.offset = ::lseek(r.fd, 0, SEEK_SET);
  r.head.clear();
}

Status FileTailer::CheckPath(const LineFn& on_line, bool* reopened) {
  *reopened = false;
  struct stat st {};
  if (::stat(options_.path.c_str(), &st) != 0) {
    // Briefly missing (between a rename and the create) or deleted: keep
    // reading the open file; the path is looked at again next time.
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("stat " + options_.path, errno);
  }
  if (st.st_dev != current_->dev || st.st_ino != current_->ino) {
    ++rotations_;
    if (previous_) ClosePrevious(on_line);  // a second rotation before the first one's writer was done
    previous_ = std::move(current_);
    Status s = OpenCurrent(false);
    if (!s.ok()) return s.code() == Status::Code::kNotFound ? Status::Ok() : s;
    *reopened = true;
    return Status::Ok();
  }
  return Status::Ok();
}

Status FileTailer::Poll(size_t byte_budget, const Deadline& deadline, const LineFn& on_line) {
  caught_up_ = false;
  if (first_poll_) {
    first_poll_ = false;
    struct stat st {};
    path_existed_at_start_ = ::stat(options_.path.c_str(), &st) == 0;
  }
  size_t budget = byte_budget;
  if (previous_) {
    const ReadEnd end = Drain(*previous_, &budget, deadline, on_line);
    if (end == ReadEnd::kBudget || end == ReadEnd::kDeadline) return Status::Ok();
  }
  if (!current_) {
    Status s = OpenCurrent(!opened_once_ && options_.start_at_end && path_existed_at_start_);
    if (!s.ok()) {
      if (previous_ && s.code() == Status::Code::kNotFound) {
        caught_up_ = true;  // the rotated file is read; the new one is not there yet
        return Status::Ok();
      }
      return s;
    }
  }
  // A few rounds at most: each is a rotation seen after reading to the end.
  for (int round = 0; round < 4; ++round) {
    HandleTruncation(*current_, on_line);
    const ReadEnd end = Drain(*current_, &budget, deadline, on_line);
    if (end == ReadEnd::kBudget || end == ReadEnd::kDeadline) return Status::Ok();
    if (end == ReadEnd::kError) return Status::FromErrno("read " + options_.path, errno);
    bool reopened = false;
    MS_RETURN_IF_ERROR(CheckPath(on_line, &reopened));
    if (current_ && !reopened) {
      // Truncated since we read to its end: take the rest now.
      struct stat st {};
      reopened = ::fstat(current_->fd, &st) == 0 && Truncated(*current_, st.st_size);
    }
    if (!current_) {  // rotated away, the new file not there yet
      caught_up_ = true;
      return Status::Ok();
    }
    if (!reopened) break;
  }
  // The writer writes to the new file: the old one is complete.
  if (previous_ && current_->offset > 0) ClosePrevious(on_line);
  caught_up_ = true;
  return Status::Ok();
}

}  // namespace mailstack::logs
