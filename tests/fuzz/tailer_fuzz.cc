// Fuzz target: logs::FileTailer against a model. The input is a script of
// operations on a real file in a private temporary directory: append bytes
// (any bytes, newlines or not), poll with a budget, rotate by rename+create,
// delete+recreate or copytruncate (each followed by a catching-up poll, the
// condition under which no line is lost). The model splits what each file
// generation received into lines (cut at max_line_bytes), the last partial
// one included once its generation is closed. Invariants: no crash; every
// emitted line is at most max_line_bytes and flagged exactly when it was cut;
// after a final catching-up poll the emitted lines are the model's lines
// (as a multiset: a rotated file's last unterminated line may come after the
// new file's first lines) and no bytes are read that were not written.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "collectors/logs/file_tailer.h"

using mailstack::Deadline;
using mailstack::logs::FileTailer;
using mailstack::logs::TailOptions;

namespace {

namespace fs = std::filesystem;

struct Line {
  std::string text;
  bool truncated;
  bool operator<(const Line& o) const { return text != o.text ? text < o.text : truncated < o.truncated; }
  bool operator==(const Line& o) const { return text == o.text && truncated == o.truncated; }
};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tailer_fuzz invariant failed: %s\n", what);
    std::abort();
  }
}

// The lines a reader must give for one file generation's bytes.
void ModelLines(const std::string& content, bool closed, size_t max, std::vector<Line>* out) {
  size_t start = 0;
  while (start < content.size()) {
    size_t nl = content.find('\n', start);
    if (nl == std::string::npos && !closed) break;
    const size_t end = nl == std::string::npos ? content.size() : nl;
    const size_t len = end - start;
    out->push_back({content.substr(start, std::min(len, max)), len > max});
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

const std::string& Dir() {
  // Never destroyed: the exit handler below still needs it.
  static const std::string* const dir = [] {
    // tmpfs when there is one: file operations per input, thousands of inputs.
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    auto* d = new std::string((base / ("tailer_fuzz_" + std::to_string(::getpid()))).string());
    fs::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(Dir(), ec);
    });
    return d;
  }();
  return *dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string path = Dir() + "/mail.log";
  std::error_code ec;
  fs::remove(path, ec);
  fs::remove(path + ".1", ec);
  TailOptions opts;
  opts.path = path;
  opts.start_at_end = false;
  opts.max_line_bytes = 1 + data[0] % 64;
  int wfd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  Check(wfd >= 0, "open writer");

  std::vector<Line> got;
  FileTailer tailer(opts);
  auto poll = [&](size_t budget) {
    (void)tailer.Poll(budget, Deadline::Never(), [&](std::string_view line, bool truncated) {
      Check(line.size() <= opts.max_line_bytes, "line longer than max_line_bytes");
      Check(!truncated || line.size() == opts.max_line_bytes, "a cut line is max_line_bytes long");
      got.push_back({std::string(line), truncated});
    });
  };
  // Every generation starts with a distinct line the reader has seen (a
  // live log's lines differ by their timestamps): how a copy is recognised.
  int generation = 0;
  auto mark = [&] {
    const std::string m = "generation " + std::to_string(generation++) + "\n";
    Check(::write(wfd, m.data(), m.size()) == static_cast<ssize_t>(m.size()), "write mark");
    return m;
  };
  std::vector<std::string> closed;  // generations the reader has finished
  std::string current = mark();     // what the file being written holds
  uint64_t written = current.size();
  poll(SIZE_MAX);
  size_t i = 1;
  while (i < size) {
    const uint8_t op = data[i++] % 8;
    if (op <= 3) {  // append up to 16 bytes
      const size_t n = std::min<size_t>(1 + (i < size ? data[i++] % 16 : 0), size - std::min(i, size));
      if (n == 0) break;
      Check(::write(wfd, data + i, n) == static_cast<ssize_t>(n), "write");
      current.append(reinterpret_cast<const char*>(data + i), n);
      written += n;
      i += n;
    } else if (op == 4) {
      poll(1 + (i < size ? data[i++] : 0));
    } else {
      // A rotation starts a new generation; what it held is final.
      if (op == 5) {  // rename + create
        fs::rename(path, path + ".1", ec);
      } else if (op == 6) {  // delete + recreate
        fs::remove(path, ec);
      } else {  // copytruncate
        fs::copy_file(path, path + ".1", fs::copy_options::overwrite_existing, ec);
        Check(::ftruncate(wfd, 0) == 0, "truncate");
      }
      if (op != 7) {
        ::close(wfd);
        wfd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        Check(wfd >= 0, "reopen writer");
      }
      // The new generation gets a line before the catching-up poll, as a
      // live log does: so the reader can tell the rotated file is done.
      closed.push_back(std::move(current));
      current = mark();
      written += current.size();
      poll(SIZE_MAX);
    }
  }
  poll(SIZE_MAX);
  ::close(wfd);

  std::vector<Line> want;
  for (const auto& g : closed) ModelLines(g, true, opts.max_line_bytes, &want);
  ModelLines(current, false, opts.max_line_bytes, &want);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  Check(got == want, "the lines read are the lines written, each once");
  Check(tailer.bytes_read() <= written, "no more bytes read than written");
  return 0;
}
