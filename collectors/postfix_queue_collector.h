// The Postfix mail queue per instance: messages, bytes, oldest message age
// and an age histogram per queue (active, deferred, hold, incoming,
// maildrop; all zero-filled) and mailstack_postfix_up. Two sources:
//  - showq (default): the stream behind `postqueue -j`, read from the
//    public/showq socket without forking postqueue; adds recipients and
//    deferred recipients by reason class. Needs group postdrop.
//  - spool: walks queue_directory and reads the head of each queue file
//    (arrival time and size, as showq does). Faster; needs root or postfix.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"
#include "collectors/core/logging.h"

namespace mailstack {

class PostfixQueueCollector final : public Collector {
 public:
  struct Instance {
    std::string name;             // value of the postfix_instance label
    std::string showq;            // unix socket path, or HOST:PORT of a showq inet service
    std::string queue_directory;  // spool mode instead of showq (exactly one is set)
  };
  struct Options {
    std::vector<Instance> instances{{"postfix", "/var/spool/postfix/public/showq", ""}};
    // Threads reading new queue files in spool mode; 0: one per CPU the process may use, at most 4.
    // Not a config key (tests set it).
    unsigned spool_readers = 0;
  };
  static Result<Options> ParseOptions(const ConfigNode& section);

  explicit PostfixQueueCollector(Options options) : options_(std::move(options)) {}

  // Every family the collector emits (the same for any options).
  static std::vector<MetricDesc> Families();
  std::vector<MetricDesc> Describe() const override { return Families(); }
  // An instance that cannot be read is mailstack_postfix_up 0 (logged once
  // per distinct error) and the run goes on; the run fails only on a bug.
  Status Collect(const CollectContext& ctx, MetricSink& sink) override;
  // Reload: takes over what the previous collector of this kind learnt (see Collector::TakeStateFrom).
  void TakeStateFrom(Collector& previous) override;
  // Spool mode: queue file heads cached for `instance` (tests).
  size_t CachedHeads(const std::string& instance) const {
    auto it = head_cache_.find(instance);
    return it == head_cache_.end() ? 0 : it->second.size();
  }

 private:
  // `work` is the run's work deadline (CollectContext::WorkDeadline), taken once for all instances.
  Status CollectShowq(const Instance& inst, const CollectContext& ctx, const Deadline& work,
                      struct QueueTotals* totals);
  Status CollectSpool(const Instance& inst, const CollectContext& ctx, const Deadline& work,
                      struct QueueTotals* totals);

  // Spool mode: what each queue file's head said, keyed by path below
  // queue_directory and valid while inode and ctime are unchanged (a move
  // between queues or a retry changes ctime), so a steady queue costs one
  // fstatat per file per run. Entries not seen in a run are dropped.
 public:
  struct HeadCacheEntry {
    ino_t ino;
    int64_t ctime_ns;
    int64_t arrival;
    int64_t size;
    uint64_t seen;  // run number that last saw it
  };
  using HeadCache = std::unordered_map<std::string, HeadCacheEntry>;

 private:
  Options options_;
  ProblemMemo problems_{{"cannot read the Postfix queue", "Postfix queue readable again", "postfix_instance"}};
  std::map<std::string, HeadCache> head_cache_;  // instance -> cache
  uint64_t run_ = 0;
};

}  // namespace mailstack
