// What flowed through the stack, from its logs: Postfix, Dovecot and OpenDKIM
// lines of mail.log files (traditional syslog, RFC 3339, postlogd) or the
// systemd journal, plus fail2ban's bans. Every run reads what was appended
// since the last one, bounded by the run's deadline and a byte budget per
// source (a backlog is caught up over the next runs), classifies each line
// (parse/maillog.h) and counts it; the counters are emitted zero-filled.
// Families: the "logs" section of shared/docs/product.md (README: the table).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"
#include "collectors/core/logging.h"
#include "collectors/logs/log_counters.h"
#include "collectors/logs/patterns.h"

namespace mailstack {

class LogsCollector final : public Collector {
 public:
  struct Source {
    enum class Kind { kFile, kJournal };
    Kind kind = Kind::kFile;
    std::string path;  // kFile: the file; kJournal: the directory ("" = the system journal)
    // The `source` label: the path, "journal", or "journal:<directory>".
    std::string Label() const;
    bool operator==(const Source&) const = default;
  };
  struct Fail2ban {
    std::string file = "/var/log/fail2ban.log";
    std::vector<std::string> jails;
  };
  struct Options {
    std::vector<Source> sources{Source{Source::Kind::kFile, "/var/log/mail.log"}};
    bool start_at_end = true;
    std::map<std::string, std::string> postfix_instances{{"postfix", "postfix"}};
    std::vector<logs::Pattern> patterns = logs::DefaultPatterns();
    std::optional<Fail2ban> fail2ban;
    // Bytes read per source and run at most (not configurable: the deadline is the knob).
    size_t read_budget = size_t{256} << 20;
  };
  // Parses `collectors.logs`; a missing section gives the defaults.
  static Result<Options> ParseOptions(const ConfigNode& section);

  explicit LogsCollector(Options options);
  ~LogsCollector() override;

  static std::vector<MetricDesc> Families() { return logs::LogFamilies(); }
  std::vector<MetricDesc> Describe() const override { return Families(); }
  Status Collect(const CollectContext& ctx, MetricSink& sink) override;
  // Reload: takes over the readers (positions) and counts of the sources and
  // patterns that are still configured, and every other counter.
  void TakeStateFrom(Collector& previous) override;

  struct Reader;  // one source's reader and stats (public for the .cc)

 private:
  void ReadSource(Reader& r, const Deadline& work);
  void ReadFail2ban(Reader& r, const Deadline& work);

  Options options_;
  logs::PatternSet patterns_;
  logs::LogCounters counters_;
  std::vector<std::unique_ptr<Reader>> readers_;  // options_.sources, then fail2ban's
  ProblemMemo problems_{{"cannot read log source", "log source readable again", "source"}};
};

}  // namespace mailstack
