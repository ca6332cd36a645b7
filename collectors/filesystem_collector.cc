#include "collectors/filesystem_collector.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>

#include "collectors/core/worker_pool.h"

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
  MS_RETURN_IF_ERROR(section.ExpectMap({"paths"}));
  if (const ConfigNode paths = section["paths"]; paths.defined() && !paths.null()) {
    MS_ASSIGN_OR_RETURN(o.paths, paths.AsUniqueStringList("path", ConfigNode::CheckAbsolutePath));
  }
  return o;
}

FilesystemCollector::FilesystemCollector(Options options) : options_(std::move(options)) {}
FilesystemCollector::~FilesystemCollector() = default;

std::vector<MetricDesc> FilesystemCollector::Families() {
  return {kSize, kAvail, kFree, kFiles, kFilesFree, kReadonly, kDeviceError};
}

namespace {

// Starts statvfs(path) on a pool worker. statvfs cannot be interrupted on a
// hung network mount, so the worker owns a reference to the result and the
// caller waits only as long as its deadline. Null: no worker free.
std::shared_ptr<FilesystemCollector::PendingStat> StartStat(const std::string& path) {
  auto pending = std::make_shared<FilesystemCollector::PendingStat>();
  const bool started = WorkerPool::Shared().TrySpawn([pending, path] {
    struct statvfs st {};
    const int rc = ::statvfs(path.c_str(), &st);
    const int err = rc == 0 ? 0 : errno;
    std::lock_guard<std::mutex> lock(pending->mu);
    pending->st = st;
    pending->err = err;
    pending->done = true;
    pending->cv.notify_all();
  });
  return started ? pending : nullptr;
}

void EmitStat(MetricSink& sink, std::string_view p, const struct statvfs& st) {
  const double frsize = static_cast<double>(st.f_frsize ? st.f_frsize : st.f_bsize);
  sink.Gauge(kSize, {p}, static_cast<double>(st.f_blocks) * frsize);
  sink.Gauge(kAvail, {p}, static_cast<double>(st.f_bavail) * frsize);
  sink.Gauge(kFree, {p}, static_cast<double>(st.f_bfree) * frsize);
  sink.Gauge(kFiles, {p}, static_cast<double>(st.f_files));
  sink.Gauge(kFilesFree, {p}, static_cast<double>(st.f_ffree));
  sink.Gauge(kReadonly, {p}, (st.f_flag & ST_RDONLY) ? 1 : 0);
  sink.Gauge(kDeviceError, {p}, 0);
}

// True while an earlier statvfs of this path is still blocked; forgets it once it returned.
bool StillStuck(std::map<std::string, std::shared_ptr<FilesystemCollector::PendingStat>>& stuck,
                const std::string& path) {
  auto it = stuck.find(path);
  if (it == stuck.end()) return false;
  {
    std::lock_guard<std::mutex> lock(it->second->mu);
    if (!it->second->done) return true;
  }
  stuck.erase(it);
  return false;
}

}  // namespace

// The problem kinds below carry nothing that changes from run to run (see ProblemMemo).
Status FilesystemCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  // One work deadline for every path: a hung mount is reported in this run
  // instead of the run overrunning.
  const Deadline work = ctx.WorkDeadline();
  for (const auto& path : options_.paths) {
    const std::string_view p = path;
    auto fail = [&](const std::string& kind) {
      sink.Gauge(kDeviceError, {p}, 1);
      problems_.Report(path, kind);
    };
    if (StillStuck(stuck_, path)) {
      fail("statvfs: an earlier call has not returned (hung mount?)");
      continue;
    }
    if (ctx.Stopping() || work.Expired()) {
      sink.Gauge(kDeviceError, {p}, 1);  // not the path's fault: nothing to log
      continue;
    }
    auto pending = StartStat(path);
    if (pending == nullptr) {
      fail("statvfs: no worker thread free");
      continue;
    }
    std::unique_lock<std::mutex> lock(pending->mu);
    if (!pending->cv.wait_until(lock, work.at(), [&] { return pending->done; })) {
      lock.unlock();
      stuck_.emplace(path, pending);
      fail("statvfs: did not return by the deadline (hung mount?)");
      continue;
    }
    if (pending->err != 0) {
      fail(Status::FromErrno("statvfs", pending->err).message());
      continue;
    }
    EmitStat(sink, p, pending->st);
    problems_.Report(path, "");
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
  problems_.TakeFrom(prev->problems_);
}

}  // namespace mailstack
