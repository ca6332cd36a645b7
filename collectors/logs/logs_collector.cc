#include "collectors/logs/logs_collector.h"

#include <ctime>
#include <set>

#include "collectors/logs/file_tailer.h"
#include "collectors/parse/fail2ban.h"
#include "collectors/parse/maillog.h"
#include "collectors/parse/syslog_line.h"

namespace mailstack {
namespace {

using logs::Pattern;

Status ParseSource(const ConfigNode& item, LogsCollector::Source* out) {
  MS_RETURN_IF_ERROR(item.ExpectMap({"file", "journal"}));
  const ConfigNode file = item["file"];
  const ConfigNode journal = item["journal"];
  if (file.defined() == journal.defined()) return item.Error("must have exactly one of file, journal");
  if (file.defined()) {
    MS_ASSIGN_OR_RETURN(out->path, file.AsAbsolutePath());
    out->kind = LogsCollector::Source::Kind::kFile;
    return Status::Ok();
  }
  MS_RETURN_IF_ERROR(journal.ExpectMap({"directory"}));
  out->kind = LogsCollector::Source::Kind::kJournal;
  if (journal["directory"].defined() && !journal["directory"].null()) {
    MS_ASSIGN_OR_RETURN(out->path, journal["directory"].AsAbsolutePath());
  }
  return Status::Ok();
}

Status ParseSources(const ConfigNode& node, std::vector<LogsCollector::Source>* out) {
  if (!node.defined() || node.null()) return Status::Ok();
  MS_RETURN_IF_ERROR(node.ExpectList());
  out->clear();
  UniqueKeys unique("source");
  for (const ConfigNode& item : node.Items()) {
    LogsCollector::Source s;
    MS_RETURN_IF_ERROR(ParseSource(item, &s));
    MS_RETURN_IF_ERROR(unique.Add(item, s.Label()));
    out->push_back(std::move(s));
  }
  if (out->empty()) return node.Error("must name at least one source");
  return Status::Ok();
}

Status CheckPatternName(const ConfigNode& at, const std::string& name) {
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return at.Error("must be lower-case letters, digits and _ (got \"" + name + "\")");
    }
  }
  return name.empty() ? at.Error("must not be empty") : Status::Ok();
}

Status ParsePattern(const ConfigNode& item, Pattern* out) {
  MS_RETURN_IF_ERROR(item.ExpectMap({"name", "contains"}));
  MS_ASSIGN_OR_RETURN(out->name, item["name"].AsString());
  MS_RETURN_IF_ERROR(CheckPatternName(item["name"], out->name));
  const ConfigNode contains = item["contains"];
  if (!contains.defined() || contains.null()) return contains.Error("is required");
  if (contains.is_sequence()) {
    MS_ASSIGN_OR_RETURN(out->parts, contains.AsStringList());
    if (out->parts.empty()) return contains.Error("must not be empty");
  } else {
    MS_ASSIGN_OR_RETURN(std::string part, contains.AsString());
    out->parts = {std::move(part)};
  }
  for (const std::string& part : out->parts) {
    if (part.empty()) return contains.Error("must not contain an empty string");
    if (part.find('\0') != std::string::npos) return contains.Error("must not contain a NUL byte");
  }
  return Status::Ok();
}

// The defaults (unless default_patterns: false), a user pattern of a default's name replacing it.
Status ParsePatterns(const ConfigNode& section, std::vector<Pattern>* out) {
  MS_ASSIGN_OR_RETURN(const bool defaults, section["default_patterns"].AsBool(true));
  if (!defaults) out->clear();
  const ConfigNode node = section["patterns"];
  MS_RETURN_IF_ERROR(node.ExpectList());
  UniqueKeys unique("pattern");
  for (const ConfigNode& item : node.Items()) {
    Pattern p;
    MS_RETURN_IF_ERROR(ParsePattern(item, &p));
    MS_RETURN_IF_ERROR(unique.Add(item["name"], p.name));
    bool replaced = false;
    for (Pattern& d : *out) {
      if (d.name == p.name) {
        d = p;
        replaced = true;
      }
    }
    if (!replaced) out->push_back(std::move(p));
  }
  if (out->size() > 64) return node.Error("at most 64 patterns");
  return Status::Ok();
}

Status ParseFail2ban(const ConfigNode& node, std::optional<LogsCollector::Fail2ban>* out) {
  if (!node.defined() || node.null()) return Status::Ok();
  MS_RETURN_IF_ERROR(node.ExpectMap({"file", "jails"}));
  LogsCollector::Fail2ban f;
  MS_ASSIGN_OR_RETURN(f.file, node["file"].AsAbsolutePath(f.file));
  MS_ASSIGN_OR_RETURN(
      f.jails, node["jails"].AsUniqueStringList("jail", [](const ConfigNode& at, const std::string& v) -> Status {
        return v.empty() ? at.Error("must not be empty") : Status::Ok();
      }));
  if (f.jails.empty()) return node["jails"].Error("must name at least one jail");
  *out = std::move(f);
  return Status::Ok();
}

Status ParseInstances(const ConfigNode& node, std::map<std::string, std::string>* out) {
  if (!node.defined() || node.null()) return Status::Ok();
  MS_ASSIGN_OR_RETURN(*out, node.AsStringMap());
  if (out->empty()) return node.Error("must name at least one instance");
  std::set<std::string> labels;
  for (const auto& [name, label] : *out) {
    if (name.empty() || label.empty()) return node.Error("names and labels must not be empty");
    if (name.find('/') != std::string::npos) {
      return node[name].Error("is a syslog_name prefix without '/' (got \"" + name + "\")");
    }
    if (!labels.insert(label).second) return node[name].Error("duplicate postfix_instance label \"" + label + "\"");
  }
  return Status::Ok();
}

}  // namespace

std::string LogsCollector::Source::Label() const {
  if (kind == Kind::kFile) return path;
  return path.empty() ? "journal" : "journal:" + path;
}

Result<LogsCollector::Options> LogsCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  MS_RETURN_IF_ERROR(
      section.ExpectMap({"sources", "start_at", "postfix_instances", "patterns", "default_patterns", "fail2ban"}));
  MS_RETURN_IF_ERROR(ParseSources(section["sources"], &o.sources));
  MS_ASSIGN_OR_RETURN(const std::string start, section["start_at"].AsOneOf({"end", "beginning"}, "end"));
  o.start_at_end = start == "end";
  MS_RETURN_IF_ERROR(ParseInstances(section["postfix_instances"], &o.postfix_instances));
  MS_RETURN_IF_ERROR(ParsePatterns(section, &o.patterns));
  MS_RETURN_IF_ERROR(ParseFail2ban(section["fail2ban"], &o.fail2ban));
  if (o.fail2ban) {
    for (const Source& s : o.sources) {
      if (s.kind == Source::Kind::kFile && s.path == o.fail2ban->file) {
        return section["fail2ban"]["file"].Error("is also a source: " + s.path);
      }
    }
  }
  return o;
}

struct LogsCollector::Reader {
  Source source;
  bool fail2ban = false;
  std::string label;
  logs::SourceStats stats;
  std::unique_ptr<logs::FileTailer> file;
};

namespace {

std::vector<std::string> PatternNames(const std::vector<Pattern>& patterns) {
  std::vector<std::string> names;
  for (const Pattern& p : patterns) names.push_back(p.name);
  return names;
}

std::unique_ptr<logs::FileTailer> MakeTailer(const std::string& path, bool start_at_end) {
  logs::TailOptions t;
  t.path = path;
  t.start_at_end = start_at_end;
  return std::make_unique<logs::FileTailer>(std::move(t));
}

}  // namespace

LogsCollector::LogsCollector(Options options)
    : options_(std::move(options)),
      patterns_(options_.patterns),
      counters_(options_.postfix_instances, options_.fail2ban ? options_.fail2ban->jails : std::vector<std::string>{},
                PatternNames(options_.patterns)) {
  for (const Source& s : options_.sources) {
    auto r = std::make_unique<Reader>();
    r->source = s;
    r->label = s.Label();
    if (s.kind == Source::Kind::kFile) r->file = MakeTailer(s.path, options_.start_at_end);
    readers_.push_back(std::move(r));
  }
  if (options_.fail2ban) {
    auto r = std::make_unique<Reader>();
    r->source = Source{Source::Kind::kFile, options_.fail2ban->file};
    r->fail2ban = true;
    r->label = options_.fail2ban->file;
    r->file = MakeTailer(r->source.path, options_.start_at_end);
    readers_.push_back(std::move(r));
  }
}

LogsCollector::~LogsCollector() = default;

namespace {

int32_t UtcOffset(time_t now) {
  struct tm tm {};
  localtime_r(&now, &tm);
  return static_cast<int32_t>(tm.tm_gmtoff);
}

}  // namespace

void LogsCollector::ReadSource(Reader& r, const Deadline& work) {
  const time_t now = ::time(nullptr);
  const parse::TimeContext tc(now, UtcOffset(now));
  Status st = r.file->Poll(options_.read_budget, work, [&](std::string_view line, bool truncated) {
    logs::CountSyslogLine(line, truncated, tc, patterns_, counters_, r.stats);
  });
  r.stats.up = st.ok();
  r.stats.rotations = r.file->rotations();
  problems_.Report(r.label, st.ok() ? "" : st.message());
}

void LogsCollector::ReadFail2ban(Reader& r, const Deadline& work) {
  const time_t now = ::time(nullptr);
  const int32_t offset = UtcOffset(now);
  parse::Fail2banLine fl;
  Status st = r.file->Poll(options_.read_budget, work, [&](std::string_view line, bool truncated) {
    ++r.stats.lines;
    if (truncated || !parse::ParseFail2banLine(line, &fl)) {
      // Continuation lines of a traceback have no timestamp: not fail2ban's action lines, nothing to count.
      return;
    }
    r.stats.last_line_timestamp = static_cast<double>(fl.local_seconds - offset);
    if (fl.ban) counters_.CountBan(fl.jail);
  });
  r.stats.up = st.ok();
  r.stats.rotations = r.file->rotations();
  problems_.Report(r.label, st.ok() ? "" : st.message());
}

Status LogsCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  const Deadline work = ctx.WorkDeadline();
  for (auto& r : readers_) {
    if (ctx.Stopping()) break;
    if (r->fail2ban) {
      ReadFail2ban(*r, work);
    } else if (r->file) {
      ReadSource(*r, work);
    } else {
      r->stats.up = false;
      problems_.Report(r->label, "journal sources are not built in yet");
    }
  }
  counters_.Emit(sink);
  for (const auto& r : readers_) logs::EmitSource(sink, r->label, r->stats);
  return Status::Ok();
}

void LogsCollector::TakeStateFrom(Collector& previous) {
  auto* prev = dynamic_cast<LogsCollector*>(&previous);
  if (prev == nullptr) return;
  for (auto& r : readers_) {
    for (auto& old : prev->readers_) {
      if (old && old->source == r->source && old->fail2ban == r->fail2ban) {
        r = std::move(old);
        break;
      }
    }
  }
  counters_.TakeFrom(prev->counters_);
  problems_.TakeFrom(prev->problems_);
}

}  // namespace mailstack
