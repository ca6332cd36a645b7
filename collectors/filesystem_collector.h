// Space and inodes of the filesystems holding the configured paths, from
// statvfs(3). Emits mailstack_filesystem_{size,avail,free}_bytes,
// _files, _files_free, _readonly and _device_error, all labelled {path}.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"
#include "collectors/core/logging.h"

namespace mailstack {

class FilesystemCollector final : public Collector {
 public:
  struct Options {
    std::vector<std::string> paths{"/", "/var/spool/postfix", "/var/mail"};
  };
  // Parses `collectors.filesystem`; a missing section gives the defaults.
  static Result<Options> ParseOptions(const ConfigNode& section);

  explicit FilesystemCollector(Options options);
  ~FilesystemCollector() override;

  // Every family the collector emits (the same for any options).
  static std::vector<MetricDesc> Families();
  std::vector<MetricDesc> Describe() const override { return Families(); }
  Status Collect(const CollectContext& ctx, MetricSink& sink) override;
  // Reload: takes over what the previous collector of this kind learnt (see Collector::TakeStateFrom).
  void TakeStateFrom(Collector& previous) override;

  struct PendingStat;  // one statvfs call on a pool worker (public for the .cc)

 private:
  Options options_;
  // statvfs calls that overran a deadline (hung NFS, stuck FUSE). While one is
  // still blocked, its path is reported as an error without starting another
  // call, so a stuck mount holds at most one pool worker.
  std::map<std::string, std::shared_ptr<PendingStat>> stuck_;
  ProblemMemo problems_{{"cannot stat filesystem", "filesystem stat works again", "path"}};  // per path
};

}  // namespace mailstack
