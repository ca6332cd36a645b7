#include "collectors/postfix_queue_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <limits>

#include "collectors/core/logging.h"
#include "collectors/net/socket.h"
#include "collectors/parse/queue_file.h"
#include "collectors/parse/showq_parser.h"

namespace mailstack {
namespace {

using prometheus::MetricType;
using parse::kDeferReasonCount;
using parse::kDeferReasonNames;
using parse::kQueueCount;
using parse::kQueueNames;

constexpr MetricDesc kUp{"mailstack_postfix_up",
                         "1 if the Postfix queue of the instance could be read from showq, 0 if not (see the log).",
                         MetricType::Gauge};
constexpr MetricDesc kMessages{"mailstack_postfix_queue_messages", "Messages in the Postfix queue.",
                               MetricType::Gauge};
constexpr MetricDesc kBytes{"mailstack_postfix_queue_size_bytes", "Total size of the messages in the Postfix queue.",
                            MetricType::Gauge};
constexpr MetricDesc kRecipients{"mailstack_postfix_queue_recipients",
                                 "Recipients still to be delivered, over the messages in the Postfix queue.",
                                 MetricType::Gauge};
constexpr MetricDesc kOldest{"mailstack_postfix_queue_oldest_message_age_seconds",
                             "Age of the oldest message in the Postfix queue (0 when empty).", MetricType::Gauge};
constexpr MetricDesc kAge{"mailstack_postfix_queue_message_age_seconds",
                          "Ages of the messages in the Postfix queue.", MetricType::Histogram};
constexpr MetricDesc kDeferred{"mailstack_postfix_queue_deferred_recipients",
                               "Recipients of deferred messages by class of their delay reason.",
                               MetricType::Gauge};

// A minute to a week: the default maximal_queue_lifetime is 5 days.
const std::vector<double> kAgeBuckets = {60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 345600, 604800};

bool IsValidShowqAddress(const std::string& a) {
  if (a.empty()) return false;
  if (a[0] == '/') return true;
  auto colon = a.rfind(':');
  return colon != std::string::npos && colon > 0 && colon + 1 < a.size();
}

// Queue-file names are queue ids: letters, digits, '_' (mail_queue_id_ok);
// anything else (temporary files, dot files) is skipped, as showq does.
bool IsQueueId(const char* name) {
  if (*name == '\0') return false;
  for (const char* p = name; *p; ++p) {
    char c = *p;
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

}  // namespace

// What one instance's queues add up to.
struct QueueTotals {
  struct Queue {
    uint64_t messages = 0;
    uint64_t bytes = 0;
    uint64_t recipients = 0;
    int64_t oldest_arrival = std::numeric_limits<int64_t>::max();
    double age_sum = 0;
    std::vector<uint64_t> buckets = std::vector<uint64_t>(kAgeBuckets.size(), 0);
  };
  explicit QueueTotals(int64_t now_unix) : now(now_unix) {}
  void Add(parse::Queue queue, int64_t arrival, int64_t size) {
    auto& q = queues[static_cast<size_t>(queue)];
    ++q.messages;
    q.bytes += static_cast<uint64_t>(size);
    if (arrival < q.oldest_arrival) q.oldest_arrival = arrival;
    const double age = arrival < now ? static_cast<double>(now - arrival) : 0.0;
    q.age_sum += age;
    for (size_t b = 0; b < kAgeBuckets.size(); ++b) {
      if (age <= kAgeBuckets[b]) ++q.buckets[b];
    }
  }
  const int64_t now;
  std::array<Queue, kQueueCount> queues;
  bool has_recipients = false;  // showq mode only
  std::array<uint64_t, kDeferReasonCount> deferred_reasons{};
};

Result<PostfixQueueCollector::Options> PostfixQueueCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  if (auto s = section.ExpectMap({"instances"}); !s.ok()) return s;
  auto list = section["instances"];
  if (!list.defined() || list.null()) return o;
  if (auto s = list.ExpectList(); !s.ok()) return s;
  o.instances.clear();
  for (const auto& item : list.Items()) {
    if (auto s = item.ExpectMap({"name", "showq", "queue_directory"}); !s.ok()) return s;
    if (!item.is_map()) return item.Error("must be a map with name and showq or queue_directory");
    auto name = item["name"].AsString();
    if (!name.ok()) return name.status();
    Instance inst{*name, "", ""};
    const bool has_showq = item["showq"].defined(), has_spool = item["queue_directory"].defined();
    if (has_showq == has_spool) return item.Error("needs exactly one of showq and queue_directory");
    if (has_showq) {
      auto showq = item["showq"].AsString();
      if (!showq.ok()) return showq.status();
      if (!IsValidShowqAddress(*showq)) {
        return item["showq"].Error("must be an absolute unix socket path or HOST:PORT (got \"" + *showq + "\")");
      }
      inst.showq = *showq;
    } else {
      auto dir = item["queue_directory"].AsAbsolutePath();
      if (!dir.ok()) return dir.status();
      inst.queue_directory = *dir;
    }
    for (const auto& prev : o.instances) {
      if (prev.name == *name) return item["name"].Error("duplicate instance name \"" + *name + "\"");
    }
    o.instances.push_back(std::move(inst));
  }
  if (o.instances.empty()) return list.Error("must list at least one instance");
  return o;
}

std::vector<MetricDesc> PostfixQueueCollector::Describe() const {
  return {kUp, kMessages, kBytes, kRecipients, kOldest, kAge, kDeferred};
}

Status PostfixQueueCollector::CollectShowq(const Instance& inst, const CollectContext& ctx, QueueTotals* t) {
  t->has_recipients = true;
  parse::ShowqParser parser([t](const parse::ShowqMessage& m) {
    t->Add(m.queue, m.arrival_time, m.size);
    t->queues[static_cast<size_t>(m.queue)].recipients += m.recipients;
    if (m.queue == parse::Queue::kDeferred) {
      for (size_t r = 0; r < kDeferReasonCount; ++r) t->deferred_reasons[r] += m.reasons[r];
    }
  });
  const Deadline deadline = ctx.WorkDeadline();
  auto fd = net::Connect(inst.showq, deadline, ctx.stop);
  if (!fd.ok()) return fd.status();
  Status status = net::ReadUntilEof(fd->get(), deadline, ctx.stop, [&](std::string_view d) { return parser.Feed(d); });
  if (status.ok()) status = parser.Finish();
  return status.WithContext("showq " + inst.showq);
}

namespace {

// A cache this size covers a queue of 200,000 messages (~130 bytes each); beyond it
// files are read every run instead of growing memory further.
constexpr size_t kMaxHeadCache = 200000;

int64_t StatCtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

struct WalkState {
  const CollectContext& ctx;
  QueueTotals* totals;
  PostfixQueueCollector::HeadCache* cache;
  uint64_t run;
};

// Walks one queue directory (recursing into one-character hash
// subdirectories, as mail_scan_dir does) and adds each complete queue file.
Status WalkQueueDir(int dirfd, const std::string& path, const std::string& key_prefix, parse::Queue queue,
                    bool recurse, WalkState& w) {
  DIR* d = ::fdopendir(dirfd);
  if (d == nullptr) {
    ::close(dirfd);
    return Status::FromErrno(path, errno);
  }
  Status status;
  char head[512];
  std::string key;
  while (struct dirent* e = ::readdir(d)) {
    if (w.ctx.Done()) {
      status = Status::DeadlineExceeded(path + ": walk timed out");
      break;
    }
    const char* name = e->d_name;
    if (name[0] == '.') continue;
    if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && name[1] == '\0')) {
      if (!recurse || name[1] != '\0') continue;
      int sub = ::openat(::dirfd(d), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (sub < 0) continue;  // raced away or not a directory
      status = WalkQueueDir(sub, path + "/" + name, key_prefix + name + "/", queue, recurse, w);
      if (!status.ok()) break;
      continue;
    }
    if (!IsQueueId(name)) continue;
    key.assign(key_prefix).append(name);
    auto it = w.cache->find(key);
    struct stat st {};
    if (it != w.cache->end()) {
      // Known file: a stat (no open) tells whether it is still the file read before.
      if (::fstatat(::dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // delivered or moved since readdir
        status = Status::FromErrno(path + "/" + name, errno);
        break;
      }
      if (S_ISREG(st.st_mode) && (st.st_mode & 0700) == 0700 && it->second.ino == st.st_ino &&
          it->second.ctime_ns == StatCtimeNs(st)) {
        it->second.seen = w.run;
        w.totals->Add(queue, it->second.arrival, it->second.size);
        continue;
      }
    }
    // New or changed file: open, then fstat the descriptor (one path lookup, not two; a cold run over
    // 10,000 files spends a quarter of its time in path lookups). O_NONBLOCK: opening a FIFO does not
    // wait, and the S_ISREG check below skips it. O_NOATIME: reading must not dirty 10,000 inodes
    // (owner or root only).
    int fd = ::openat(::dirfd(d), name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::openat(::dirfd(d), name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
      if (errno == ENOENT || errno == ELOOP) continue;  // gone since readdir; a symlink is no queue file
      status = Status::FromErrno(path + "/" + name, errno);
      break;
    }
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      continue;
    }
    // Files still being written are 0600 (showq's mail_open_ok): skipped.
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0700) != 0700) {
      ::close(fd);
      continue;
    }
    const int64_t ctime_ns = StatCtimeNs(st);
    ssize_t n = ::pread(fd, head, sizeof head, 0);
    ::close(fd);
    if (n < 0) continue;
    auto h = parse::ParseQueueFileHead(std::string_view(head, static_cast<size_t>(n)));
    // As showq: no 'T' -> mtime; no 'C' (maildrop) -> file size.
    const int64_t arrival = h.has_time ? h.arrival_time : static_cast<int64_t>(st.st_mtime);
    const int64_t size = h.has_size ? h.content_size : static_cast<int64_t>(st.st_size);
    w.totals->Add(queue, arrival, size);
    if (it != w.cache->end()) {
      it->second = {st.st_ino, ctime_ns, arrival, size, w.run};
    } else if (w.cache->size() < kMaxHeadCache) {
      w.cache->emplace(key, PostfixQueueCollector::HeadCacheEntry{st.st_ino, ctime_ns, arrival, size, w.run});
    }
  }
  ::closedir(d);
  return status;
}

}  // namespace

Status PostfixQueueCollector::CollectSpool(const Instance& inst, const CollectContext& ctx, QueueTotals* t) {
  auto& cache = head_cache_[inst.name];
  WalkState w{ctx, t, &cache, ++run_};
  for (size_t qi = 0; qi < kQueueCount; ++qi) {
    const std::string queue(kQueueNames[qi]);
    const std::string path = inst.queue_directory + "/" + queue;
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("spool " + path, errno);
    // maildrop is flat; the other queues may be hashed (hash_queue_names).
    Status s = WalkQueueDir(fd, path, queue + "/", static_cast<parse::Queue>(qi), queue != "maildrop", w);
    if (!s.ok()) return s.WithContext("spool");
  }
  for (auto it = cache.begin(); it != cache.end();) {
    if (it->second.seen != w.run) it = cache.erase(it);
    else ++it;
  }
  return Status::Ok();
}

Status PostfixQueueCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  for (const auto& desc : Describe()) sink.Declare(desc);
  for (const auto& inst : options_.instances) {
    const std::string_view iname = inst.name;
    QueueTotals t(static_cast<int64_t>(UnixTime()));
    Status status = inst.showq.empty() ? CollectSpool(inst, ctx, &t) : CollectShowq(inst, ctx, &t);
    if (!status.ok()) {
      sink.Gauge(kUp, {{"postfix_instance", iname}}, 0);
      if (problems_.Update(inst.name, status.message()) == ProblemMemo::Change::kNew) {
        MS_LOG(kWarn, "cannot read the Postfix queue", {{"postfix_instance", inst.name}, {"err", status.message()}});
      }
      continue;
    }
    if (problems_.Update(inst.name, "") == ProblemMemo::Change::kCleared) {
      MS_LOG(kInfo, "Postfix queue readable again", {{"postfix_instance", inst.name}});
    }
    sink.Gauge(kUp, {{"postfix_instance", iname}}, 1);
    for (size_t qi = 0; qi < kQueueCount; ++qi) {
      const auto& q = t.queues[qi];
      LabelList labels = {{"postfix_instance", iname}, {"queue", kQueueNames[qi]}};
      sink.Gauge(kMessages, labels, static_cast<double>(q.messages));
      sink.Gauge(kBytes, labels, static_cast<double>(q.bytes));
      if (t.has_recipients) sink.Gauge(kRecipients, labels, static_cast<double>(q.recipients));
      sink.Gauge(kOldest, labels,
                 q.messages == 0 || q.oldest_arrival >= t.now ? 0.0 : static_cast<double>(t.now - q.oldest_arrival));
      sink.Histogram(kAge, labels, kAgeBuckets, q.buckets, q.age_sum, q.messages);
    }
    if (!t.has_recipients) continue;  // spool mode does not read defer logs
    for (size_t r = 0; r < kDeferReasonCount; ++r) {
      sink.Gauge(kDeferred, {{"postfix_instance", iname}, {"reason", kDeferReasonNames[r]}},
                 static_cast<double>(t.deferred_reasons[r]));
    }
  }
  return Status::Ok();
}

}  // namespace mailstack
