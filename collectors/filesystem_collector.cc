#include "collectors/filesystem_collector.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace mailstack {
namespace {

constexpr GaugeFamily<1> kSize{"mailstack_filesystem_size_bytes",
                               "Size of the filesystem holding path, in bytes (statvfs f_blocks * f_frsize).", "path"};
constexpr GaugeFamily<1> kAvail{
    "mailstack_filesystem_avail_bytes",
    "Space available to unprivileged users on the filesystem holding path, in bytes (f_bavail).", "path"};
constexpr GaugeFamily<1> kFree{
    "mailstack_filesystem_free_bytes",
    "Free space on the filesystem holding path including root-reserved blocks, in bytes (f_bfree).", "path"};
constexpr GaugeFamily<1> kFiles{"mailstack_filesystem_files", "Inodes on the filesystem holding path (f_files).",
                                "path"};
constexpr GaugeFamily<1> kFilesFree{"mailstack_filesystem_files_free",
                                    "Free inodes on the filesystem holding path (f_ffree).", "path"};
constexpr GaugeFamily<1> kReadonly{"mailstack_filesystem_readonly",
                                   "1 if the filesystem holding path is mounted read-only.", "path"};
constexpr GaugeFamily<1> kDeviceError{"mailstack_filesystem_device_error",
                                      "1 if statvfs of path failed or did not return by the deadline.", "path"};

}  // namespace

struct FilesystemCollector::PendingStat {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;     // guarded by mu
  int err = 0;           // guarded by mu
  struct statvfs st {};  // guarded by mu
};

Result<FilesystemCollector::Options> FilesystemCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  if (auto s = section.ExpectMap({"paths"}); !s.ok()) return s;
  auto paths = section["paths"];
  if (paths.defined() && !paths.null()) {
    auto list = paths.AsStringList();
    if (!list.ok()) return list.status();
    o.paths = std::move(list).value();
    auto items = paths.Items();
    for (size_t i = 0; i < o.paths.size(); ++i) {
      if (o.paths[i][0] != '/') return items[i].Error("must be an absolute path (got \"" + o.paths[i] + "\")");
      for (size_t j = 0; j < i; ++j) {
        if (o.paths[j] == o.paths[i]) return items[i].Error("duplicate path \"" + o.paths[i] + "\"");
      }
    }
  }
  return o;
}

FilesystemCollector::FilesystemCollector(Options options) : options_(std::move(options)) {}
FilesystemCollector::~FilesystemCollector() = default;

std::vector<MetricDesc> FilesystemCollector::Families() {
  return {kSize, kAvail, kFree, kFiles, kFilesFree, kReadonly, kDeviceError};
}

Status FilesystemCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  // One work deadline for every path: a hung mount is reported in this run
  // instead of the run overrunning.
  const Deadline work = ctx.WorkDeadline();
  for (const auto& path : options_.paths) {
    std::string_view p = path;
    // A previous call for this path may still hang.
    if (auto it = stuck_.find(path); it != stuck_.end()) {
      std::unique_lock<std::mutex> lock(it->second->mu);
      if (!it->second->done) {
        lock.unlock();
        sink.Gauge(kDeviceError, {p}, 1);
        continue;
      }
      lock.unlock();
      stuck_.erase(it);
    }
    if (ctx.Stopping() || work.Expired()) {
      sink.Gauge(kDeviceError, {p}, 1);
      continue;
    }
    auto pending = std::make_shared<PendingStat>();
    // statvfs cannot be interrupted on a hung network mount, so it runs on a
    // detached thread that owns a reference to its result.
    std::thread([pending, path] {
      struct statvfs st {};
      int rc = ::statvfs(path.c_str(), &st);
      int err = rc == 0 ? 0 : errno;
      std::lock_guard<std::mutex> lock(pending->mu);
      pending->st = st;
      pending->err = err;
      pending->done = true;
      pending->cv.notify_all();
    }).detach();
    std::unique_lock<std::mutex> lock(pending->mu);
    if (!pending->cv.wait_until(lock, work.at(), [&] { return pending->done; })) {
      lock.unlock();
      stuck_.emplace(path, pending);
      sink.Gauge(kDeviceError, {p}, 1);
      continue;
    }
    if (pending->err != 0) {
      sink.Gauge(kDeviceError, {p}, 1);
      continue;
    }
    const struct statvfs& st = pending->st;
    const double frsize = static_cast<double>(st.f_frsize ? st.f_frsize : st.f_bsize);
    sink.Gauge(kSize, {p}, static_cast<double>(st.f_blocks) * frsize);
    sink.Gauge(kAvail, {p}, static_cast<double>(st.f_bavail) * frsize);
    sink.Gauge(kFree, {p}, static_cast<double>(st.f_bfree) * frsize);
    sink.Gauge(kFiles, {p}, static_cast<double>(st.f_files));
    sink.Gauge(kFilesFree, {p}, static_cast<double>(st.f_ffree));
    sink.Gauge(kReadonly, {p}, (st.f_flag & ST_RDONLY) ? 1 : 0);
    sink.Gauge(kDeviceError, {p}, 0);
  }
  return Status::Ok();
}

void FilesystemCollector::TakeStateFrom(Collector& previous) {
  auto* prev = dynamic_cast<FilesystemCollector*>(&previous);
  if (prev == nullptr || prev == this) return;
  // A statvfs still blocked on a path that is still configured stays the one
  // call for that path: a reload must not start a second thread on a hung mount.
  for (const auto& path : options_.paths) {
    auto it = prev->stuck_.find(path);
    if (it != prev->stuck_.end()) stuck_.insert(*it);
  }
}

}  // namespace mailstack
