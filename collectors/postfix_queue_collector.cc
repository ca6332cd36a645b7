#include "collectors/postfix_queue_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <limits>
#include <system_error>
#include <thread>
#include <vector>

#include "collectors/core/logging.h"
#include "collectors/core/worker_pool.h"
#include "collectors/net/socket.h"
#include "collectors/parse/queue_file.h"
#include "collectors/parse/showq_parser.h"

namespace mailstack {
namespace {

using parse::kDeferReasonCount;
using parse::kDeferReasonNames;
using parse::kQueueCount;
using parse::kQueueNames;

constexpr GaugeFamily<1> kUp{"mailstack_postfix_up",
                             "1 if the Postfix queue of the instance could be read from showq, 0 if not (see the log).",
                             "postfix_instance"};
constexpr GaugeFamily<2> kMessages{"mailstack_postfix_queue_messages", "Messages in the Postfix queue.",
                                   "postfix_instance", "queue"};
constexpr GaugeFamily<2> kBytes{"mailstack_postfix_queue_size_bytes",
                                "Total size of the messages in the Postfix queue.", "postfix_instance", "queue"};
constexpr GaugeFamily<2> kRecipients{"mailstack_postfix_queue_recipients",
                                     "Recipients still to be delivered, over the messages in the Postfix queue.",
                                     "postfix_instance", "queue"};
constexpr GaugeFamily<2> kOldest{"mailstack_postfix_queue_oldest_message_age_seconds",
                                 "Age of the oldest message in the Postfix queue (0 when empty).", "postfix_instance",
                                 "queue"};
constexpr HistogramFamily<2> kAge{"mailstack_postfix_queue_message_age_seconds",
                                  "Ages of the messages in the Postfix queue.", "postfix_instance", "queue"};
constexpr GaugeFamily<2> kDeferred{"mailstack_postfix_queue_deferred_recipients",
                                   "Recipients of deferred messages by class of their delay reason.",
                                   "postfix_instance", "reason"};

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

namespace {

Result<PostfixQueueCollector::Instance> ParseInstance(const ConfigNode& item) {
  MS_RETURN_IF_ERROR(item.ExpectMap({"name", "showq", "queue_directory"}));
  if (!item.is_map()) return item.Error("must be a map with name and showq or queue_directory");
  PostfixQueueCollector::Instance inst;
  MS_ASSIGN_OR_RETURN(inst.name, item["name"].AsString());
  const bool has_showq = item["showq"].defined(), has_spool = item["queue_directory"].defined();
  if (has_showq == has_spool) return item.Error("needs exactly one of showq and queue_directory");
  if (has_spool) {
    MS_ASSIGN_OR_RETURN(inst.queue_directory, item["queue_directory"].AsAbsolutePath());
    return inst;
  }
  MS_ASSIGN_OR_RETURN(inst.showq, item["showq"].AsString());
  if (!IsValidShowqAddress(inst.showq)) {
    return item["showq"].Error("must be an absolute unix socket path or HOST:PORT (got \"" + inst.showq + "\")");
  }
  return inst;
}

}  // namespace

Result<PostfixQueueCollector::Options> PostfixQueueCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  MS_RETURN_IF_ERROR(section.ExpectMap({"instances"}));
  const ConfigNode list = section["instances"];
  if (!list.defined() || list.null()) return o;
  MS_RETURN_IF_ERROR(list.ExpectList());
  o.instances.clear();
  UniqueKeys names("instance name");
  for (const auto& item : list.Items()) {
    MS_ASSIGN_OR_RETURN(Instance inst, ParseInstance(item));
    MS_RETURN_IF_ERROR(names.Add(item["name"], inst.name));
    o.instances.push_back(std::move(inst));
  }
  if (o.instances.empty()) return list.Error("must list at least one instance");
  return o;
}

std::vector<MetricDesc> PostfixQueueCollector::Families() {
  return {kUp, kMessages, kBytes, kRecipients, kOldest, kAge, kDeferred};
}

Status PostfixQueueCollector::CollectShowq(const Instance& inst, const CollectContext& ctx, const Deadline& work,
                                           QueueTotals* t) {
  t->has_recipients = true;
  parse::ShowqParser parser([t](const parse::ShowqMessage& m) {
    t->Add(m.queue, m.arrival_time, m.size);
    t->queues[static_cast<size_t>(m.queue)].recipients += m.recipients;
    if (m.queue == parse::Queue::kDeferred) {
      for (size_t r = 0; r < kDeferReasonCount; ++r) t->deferred_reasons[r] += m.reasons[r];
    }
  });
  auto fd = net::Connect(inst.showq, work, ctx.stop);
  if (!fd.ok()) return fd.status();
  Status status = net::ReadUntilEof(fd->get(), work, ctx.stop, [&](std::string_view d) { return parser.Feed(d); });
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

// A queue file to read (new, or changed since it was cached) and what reading it gave.
struct HeadRead {
  int dirfd = -1;      // open until the batch is flushed
  std::string key;     // path below queue_directory: the cache key
  size_t name_at = 0;  // the file name is key.substr(name_at)
  parse::Queue queue = parse::Queue::kActive;
  int err = 0;             // errno of the open
  bool skip = false;       // not a complete regular queue file
  bool timed_out = false;  // the deadline (or a stop) came first
  ino_t ino = 0;
  int64_t ctime_ns = 0, arrival = 0, size = 0;
};

// open, fstat the descriptor (one path lookup, not two), read the head.
// O_NONBLOCK: opening a FIFO does not wait, and the S_ISREG check skips it;
// O_NOCTTY: a terminal device is not made ours (readdir's type already keeps
// out what it knows is no regular file). O_NOATIME: reading must not dirty
// 10,000 inodes (owner or root only).
void ReadHead(HeadRead& r) {
  const char* name = r.key.c_str() + r.name_at;
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
  int fd = ::openat(r.dirfd, name, kFlags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(r.dirfd, name, kFlags);
  if (fd < 0) {
    r.err = errno;
    return;
  }
  struct stat st {};
  // Files still being written are 0600 (showq's mail_open_ok): skipped.
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0700) != 0700) {
    ::close(fd);
    r.skip = true;
    return;
  }
  char head[512];
  const ssize_t n = ::pread(fd, head, sizeof head, 0);
  ::close(fd);
  if (n < 0) {
    r.skip = true;
    return;
  }
  auto h = parse::ParseQueueFileHead(std::string_view(head, static_cast<size_t>(n)));
  r.ino = st.st_ino;
  r.ctime_ns = StatCtimeNs(st);
  // As showq: no 'T' -> mtime; no 'C' (maildrop) -> file size.
  r.arrival = h.has_time ? h.arrival_time : static_cast<int64_t>(st.st_mtime);
  r.size = h.has_size ? h.content_size : static_cast<int64_t>(st.st_size);
}

struct WalkState {
  const CollectContext& ctx;
  const Deadline& work;  // the walk ends by the work deadline, so a slow spool is this run's failure
  bool Done() const { return ctx.Stopping() || work.Expired(); }
  QueueTotals* totals;
  PostfixQueueCollector::HeadCache* cache;
  uint64_t run;
  const std::string& queue_directory;
  unsigned readers;  // 0: one per usable CPU, at most kMaxReaders
  std::vector<HeadRead> batch;
};

// Reading a head is three system calls, one with a path lookup: ~5 us of
// kernel time each with the page cache warm, so a queue full of files not yet
// cached (the first run, a flood of new mail, a queue run that touched every
// deferred file) is bound by the CPU. Batches of at least kParallelMin files
// are read by up to kMaxReaders threads when the host has the CPUs; with one
// CPU, in line.
constexpr size_t kBatch = 1024, kParallelMin = 128;
constexpr unsigned kMaxReaders = 4;

// CPUs this process may run on (taskset, cpuset), not the host's count.
unsigned UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::thread::hardware_concurrency();
}

Status FlushBatch(WalkState& w) {
  auto& batch = w.batch;
  if (batch.empty()) return Status::Ok();
  const unsigned readers = batch.size() < kParallelMin ? 1
                           : w.readers > 0             ? w.readers
                                                       : std::clamp(UsableCpus(), 1u, kMaxReaders);
  WorkerPool::Shared().ForEach(batch.size(), readers, [&](size_t i) {
    if (w.Done()) {
      batch[i].timed_out = true;
    } else {
      ReadHead(batch[i]);
    }
  });
  Status status;
  for (auto& r : batch) {
    if (r.timed_out) {
      // The queue directory, not the subdirectory reached: one kind per fault.
      status = Status::DeadlineExceeded(w.queue_directory + ": walk timed out");
      break;
    }
    // Gone since readdir; a symlink, a socket or a device is no queue file.
    if (r.err == ENOENT || r.err == ELOOP || r.err == ENXIO || r.err == ENODEV) continue;
    if (r.err != 0) {
      status = Status::FromErrno(w.queue_directory + "/" + r.key, r.err);
      break;
    }
    if (r.skip) continue;
    w.totals->Add(r.queue, r.arrival, r.size);
    const PostfixQueueCollector::HeadCacheEntry entry{r.ino, r.ctime_ns, r.arrival, r.size, w.run};
    if (auto it = w.cache->find(r.key); it != w.cache->end()) {
      it->second = entry;
    } else if (w.cache->size() < kMaxHeadCache) {
      w.cache->emplace(std::move(r.key), entry);
    }
  }
  batch.clear();
  return status;
}

// Walks one queue directory (recursing into one-character hash
// subdirectories, as mail_scan_dir does) and adds each complete queue file:
// from the cache when its inode and ctime are unchanged, else read (batched).
Status WalkQueueDir(int dirfd, const std::string& path, const std::string& key_prefix, parse::Queue queue, bool recurse,
                    WalkState& w) {
  DIR* d = ::fdopendir(dirfd);
  if (d == nullptr) {
    ::close(dirfd);
    return Status::FromErrno(path, errno);
  }
  Status status;
  std::string key;
  while (struct dirent* e = ::readdir(d)) {
    if (w.Done()) {
      // The queue directory, not the subdirectory reached: one kind per fault.
      status = Status::DeadlineExceeded(w.queue_directory + ": walk timed out");
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
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;  // symlink, FIFO, socket, device
    key.assign(key_prefix).append(name);
    if (auto it = w.cache->find(key); it != w.cache->end()) {
      // Known file: a stat (no open) tells whether it is still the file read before.
      struct stat st {};
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
    HeadRead& r = w.batch.emplace_back();
    r.dirfd = ::dirfd(d);
    r.key = key;
    r.name_at = key_prefix.size();
    r.queue = queue;
    if (w.batch.size() >= kBatch) {
      status = FlushBatch(w);
      if (!status.ok()) break;
    }
  }
  // Before closedir: the batch holds this directory's descriptor.
  if (status.ok()) status = FlushBatch(w);
  w.batch.clear();
  ::closedir(d);
  return status;
}

}  // namespace

Status PostfixQueueCollector::CollectSpool(const Instance& inst, const CollectContext& ctx, const Deadline& work,
                                           QueueTotals* t) {
  auto& cache = head_cache_[inst.name];
  WalkState w{ctx, work, t, &cache, ++run_, inst.queue_directory, options_.spool_readers, {}};
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
    if (it->second.seen != w.run)
      it = cache.erase(it);
    else
      ++it;
  }
  return Status::Ok();
}

Status PostfixQueueCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  const Deadline work = ctx.WorkDeadline();
  for (const auto& inst : options_.instances) {
    const std::string_view iname = inst.name;
    QueueTotals t(static_cast<int64_t>(UnixTime()));
    Status status = inst.showq.empty() ? CollectSpool(inst, ctx, work, &t) : CollectShowq(inst, ctx, work, &t);
    if (!status.ok()) {
      sink.Gauge(kUp, {iname}, 0);
      problems_.Report(inst.name, status.message());
      continue;
    }
    problems_.Report(inst.name, "");
    sink.Gauge(kUp, {iname}, 1);
    for (size_t qi = 0; qi < kQueueCount; ++qi) {
      const auto& q = t.queues[qi];
      const LabelValues<2> labels{iname, kQueueNames[qi]};
      sink.Gauge(kMessages, labels, static_cast<double>(q.messages));
      sink.Gauge(kBytes, labels, static_cast<double>(q.bytes));
      if (t.has_recipients) sink.Gauge(kRecipients, labels, static_cast<double>(q.recipients));
      sink.Gauge(kOldest, labels,
                 q.messages == 0 || q.oldest_arrival >= t.now ? 0.0 : static_cast<double>(t.now - q.oldest_arrival));
      sink.Histogram(kAge, labels, kAgeBuckets, q.buckets, q.age_sum, q.messages);
    }
    if (!t.has_recipients) continue;  // spool mode does not read defer logs
    for (size_t r = 0; r < kDeferReasonCount; ++r) {
      sink.Gauge(kDeferred, {iname, kDeferReasonNames[r]}, static_cast<double>(t.deferred_reasons[r]));
    }
  }
  return Status::Ok();
}

void PostfixQueueCollector::TakeStateFrom(Collector& previous) {
  auto* prev = dynamic_cast<PostfixQueueCollector*>(&previous);
  if (prev == nullptr || prev == this) return;
  // A spool instance reading the same queue_directory keeps its head cache
  // (entries are still checked against inode and ctime).
  for (const auto& inst : options_.instances) {
    if (inst.queue_directory.empty()) continue;
    for (const auto& old : prev->options_.instances) {
      if (old.name != inst.name || old.queue_directory != inst.queue_directory) continue;
      auto it = prev->head_cache_.find(old.name);
      if (it != prev->head_cache_.end()) head_cache_[inst.name] = std::move(it->second);
    }
  }
  run_ = prev->run_;
  problems_.TakeFrom(prev->problems_);
}

}  // namespace mailstack
