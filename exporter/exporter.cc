#include "exporter/exporter.h"

#include <chrono>
#include <map>
#include <sstream>

#include <prometheus/text_serializer.h>

#include "collectors/core/logging.h"
#include "collectors/core/metrics.h"
#include "exporter/exposition.h"
#include "exporter/process_metrics.h"

#ifndef MAILSTACK_VERSION
#define MAILSTACK_VERSION "0.0.0"
#endif
#ifndef MAILSTACK_REVISION
#define MAILSTACK_REVISION "unknown"
#endif

namespace mailstack {
namespace {

using namespace std::chrono_literals;

constexpr GaugeFamily<3> kBuildInfo{"mailstack_exporter_build_info",
                                    "Version, revision and compiler of mailstack_exporter; always 1.", "version",
                                    "revision", "compiler"};
constexpr GaugeFamily<0> kReloadOk{"mailstack_exporter_config_last_reload_successful",
                                   "1 if the last config load or reload succeeded, 0 if it failed."};
constexpr GaugeFamily<0> kReloadTime{"mailstack_exporter_config_last_reload_success_timestamp_seconds",
                                     "Unix time of the last successful config load or reload."};
constexpr GaugeFamily<1> kSuccess{
    "mailstack_collector_success",
    "1 if the collector's last run succeeded, 0 if it failed or is overrunning its timeout.", "collector"};
constexpr GaugeFamily<1> kDuration{
    "mailstack_collector_duration_seconds",
    "Duration of the collector's last run in seconds (or of the current run while it overruns).", "collector"};
constexpr GaugeFamily<1> kLastSuccess{"mailstack_collector_last_success_timestamp_seconds",
                                      "Unix time the collector last finished a successful run (0 if never).",
                                      "collector"};

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Joins families by name: samples of same-named families are concatenated so
// no `# TYPE` line repeats. A same-named family of another type is dropped.
std::vector<prometheus::MetricFamily> MergeFamilies(std::vector<const prometheus::MetricFamily*> in) {
  std::vector<prometheus::MetricFamily> out;
  std::map<std::string, size_t> index;
  for (const auto* f : in) {
    auto it = index.find(f->name);
    if (it == index.end()) {
      index.emplace(f->name, out.size());
      out.push_back(*f);
      continue;
    }
    auto& dst = out[it->second];
    if (dst.type != f->type) {
      MS_LOG(kError, "bug: two collectors emit one metric name with different types; dropping the second",
             {{"metric", f->name}});
      continue;
    }
    dst.metric.insert(dst.metric.end(), f->metric.begin(), f->metric.end());
  }
  return out;
}

}  // namespace

std::vector<MetricDesc> SelfFamilies() {
  std::vector<MetricDesc> out = {kBuildInfo, kReloadOk, kReloadTime, kSuccess, kDuration, kLastSuccess};
  for (const auto& d : ProcessFamilies()) out.push_back(d);
  return out;
}

const BuildInfo& GetBuildInfo() {
  static const BuildInfo kInfo {
    MAILSTACK_VERSION, MAILSTACK_REVISION,
#if defined(__clang__)
        "clang " __clang_version__
#elif defined(__GNUC__)
        "gcc " __VERSION__
#else
        "unknown"
#endif
  };
  return kInfo;
}

Exporter::Exporter(Options options) : options_(std::move(options)), runners_(std::make_shared<const RunnerList>()) {}

Exporter::~Exporter() { Shutdown(); }

std::shared_ptr<const Exporter::RunnerList> Exporter::Runners() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return runners_;
}

Status Exporter::Reload() {
  auto config = LoadConfig(options_.config_path);
  if (!config.ok()) {
    std::lock_guard<std::mutex> lock(state_mu_);
    last_reload_ok_ = false;
    return config.status();
  }
  return Apply(std::move(config).value());
}

namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace

Status Exporter::Apply(Config config, ReloadSummary* summary) {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  auto old = Runners();
  std::map<std::string, std::shared_ptr<CollectorRunner>> old_by_name;
  for (const auto& r : *old) old_by_name[r->name()] = r;

  ReloadSummary done;
  auto fresh = std::make_shared<RunnerList>(config.collectors.size());
  std::map<std::string, std::string> fingerprints;
  // Changed collectors: slot in `fresh` and the runner they replace. Their
  // runners start once the old ones have stopped and handed over state.
  struct Replacing {
    size_t slot;
    std::shared_ptr<CollectorRunner> prev;
  };
  std::vector<Replacing> replacing;
  for (size_t i = 0; i < config.collectors.size(); ++i) {
    const auto& c = config.collectors[i];
    fingerprints[c.name] = c.fingerprint;
    auto it = old_by_name.find(c.name);
    if (it == old_by_name.end()) {
      (*fresh)[i] = std::make_shared<CollectorRunner>(c.name, c.collector, c.interval, c.timeout, nullptr, nullptr);
      (*fresh)[i]->Start();
      done.added.push_back(c.name);
      continue;
    }
    auto prev = it->second;
    old_by_name.erase(it);
    auto fp = fingerprints_.find(c.name);
    if (!c.fingerprint.empty() && fp != fingerprints_.end() && fp->second == c.fingerprint &&
        prev->interval() == c.interval && prev->timeout() == c.timeout) {
      (*fresh)[i] = prev;  // untouched: same thread, schedule, snapshot and state
      done.kept.push_back(c.name);
      continue;
    }
    replacing.push_back({i, prev});
    done.replaced.push_back(c.name);
  }
  // Replaced and removed runners: stop them all at once, then wait. Until the
  // list is swapped below, their last snapshots are still what is served.
  for (const auto& r : replacing) r.prev->RequestStop();
  for (const auto& [name, prev] : old_by_name) prev->RequestStop();
  for (const auto& r : replacing) {
    const auto& c = config.collectors[r.slot];
    const bool stopped = r.prev->Stop(2s);
    // A collector stuck past the grace is still in use by its thread: no handoff.
    if (stopped) c.collector->TakeStateFrom(*r.prev->collector());
    // Serves the old runner's last snapshot until its own first run.
    (*fresh)[r.slot] = std::make_shared<CollectorRunner>(c.name, c.collector, c.interval, c.timeout,
                                                         r.prev->Current().snapshot, nullptr);
    (*fresh)[r.slot]->Start();
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    runners_ = fresh;
    config_source_ = config.source;
    last_reload_ok_ = true;
    last_reload_success_unix_ = UnixTime();
  }
  fingerprints_ = std::move(fingerprints);
  ready_ = true;
  for (const auto& [name, prev] : old_by_name) {
    (void)prev->Stop(2s);
    done.removed.push_back(name);
  }
  std::vector<std::string> names;
  for (const auto& c : config.collectors) names.push_back(c.name);
  MS_LOG(kInfo, "config loaded",
         {{"file", config.source},
          {"collectors", Join(names)},
          {"kept", Join(done.kept)},
          {"replaced", Join(done.replaced)},
          {"added", Join(done.added)},
          {"removed", Join(done.removed)}});
  if (summary != nullptr) *summary = std::move(done);
  return Status::Ok();
}

void Exporter::Shutdown() {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  std::shared_ptr<const RunnerList> old;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    old = runners_;
    runners_ = std::make_shared<const RunnerList>();
  }
  for (const auto& r : *old) r->Stop(1s);
}

void Exporter::AppendSelfMetrics(const RunnerList& runners, const std::vector<CollectorRunner::View>& views,
                                 std::string* out) const {
  const auto& build = GetBuildInfo();
  AppendHeader(out, kBuildInfo);
  AppendSample(out, kBuildInfo, {build.version, build.revision, build.compiler}, 1);
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    AppendMetric(out, kReloadOk, last_reload_ok_ ? 1 : 0);
    AppendMetric(out, kReloadTime, last_reload_success_unix_);
  }
  // One family at a time: the format wants all samples of a name together.
  struct Column {
    const GaugeFamily<1>& family;
    double (*value)(const CollectorRunner::View&);
  };
  const Column columns[] = {
      {kSuccess,
       [](const CollectorRunner::View& v) -> double { return v.overrunning ? 0 : (v.snapshot->success ? 1 : 0); }},
      {kDuration,
       [](const CollectorRunner::View& v) -> double {
         return v.overrunning ? v.overrun_seconds : v.snapshot->duration_seconds;
       }},
      {kLastSuccess,
       [](const CollectorRunner::View& v) -> double { return v.snapshot ? v.snapshot->last_success_unix : 0; }},
  };
  for (const auto& col : columns) {
    AppendHeader(out, col.family);
    for (size_t i = 0; i < runners.size(); ++i) {
      const auto& v = views[i];
      if (!v.snapshot && !v.overrunning) continue;  // first run not finished yet
      AppendSample(out, col.family, {runners[i]->name()}, col.value(v));
    }
  }
  if (options_.exporter_metrics) AppendProcessMetrics(out);
}

std::string Exporter::RenderMetrics() {
  auto runners = Runners();
  std::vector<CollectorRunner::View> views;
  views.reserve(runners->size());
  std::string key;
  for (const auto& r : *runners) {
    // Generation first: a snapshot read after it is at least that new, so a
    // stale cache key can only cause one extra rebuild, never stale text.
    uint64_t gen = r->Generation();
    views.push_back(r->Current());
    key += r->name();
    key += '/';
    key += std::to_string(gen);
    key += views.back().overrunning ? "!" : ";";
  }
  // Collector families change only when a run publishes: serialize them once
  // per change, not once per scrape.
  std::shared_ptr<const std::string> body;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_text_ && key == cache_key_) body = cache_text_;
  }
  if (!body) {
    std::vector<const prometheus::MetricFamily*> all;
    for (const auto& v : views) {
      if (!v.snapshot || v.overrunning) continue;
      for (const auto& f : v.snapshot->families) all.push_back(&f);
    }
    auto text = std::make_shared<std::string>(prometheus::TextSerializer().Serialize(MergeFamilies(all)));
    std::lock_guard<std::mutex> lock(cache_mu_);
    cache_key_ = key;
    cache_text_ = text;
    body = text;
  }
  std::string out;
  out.reserve(body->size() + 4096);
  AppendSelfMetrics(*runners, views, &out);
  out += *body;
  return out;
}

std::string Exporter::RenderLanding(const std::string& telemetry_path) const {
  auto runners = Runners();
  std::string source;
  bool reload_ok;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    source = config_source_;
    reload_ok = last_reload_ok_;
  }
  const auto& build = GetBuildInfo();
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mailstack_exporter</title>"
       "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.ok{color:#080}.fail{color:#c00}"
       "</style></head><body>\n"
    << "<h1>mailstack_exporter</h1>\n<p>Prometheus exporter for Postfix, Dovecot and OpenDKIM mail servers. "
    << "Version " << HtmlEscape(build.version) << " (revision " << HtmlEscape(build.revision) << ")</p>\n"
    << "<ul><li><a href=\"" << HtmlEscape(telemetry_path) << "\">Metrics</a></li>"
    << "<li><a href=\"/-/healthy\">Health</a></li><li><a href=\"/-/ready\">Readiness</a></li></ul>\n"
    << "<p>Config: " << HtmlEscape(source.empty() ? "(not loaded)" : source)
    << (reload_ok ? "" : " <span class=\"fail\">(last reload failed; see the log)</span>") << "</p>\n"
    << "<h2>Collectors</h2>\n<table><tr><th>collector</th><th>interval</th><th>timeout</th>"
       "<th>last run</th><th>duration</th><th>error</th></tr>\n";
  for (const auto& r : *runners) {
    auto v = r->Current();
    o << "<tr><td>" << HtmlEscape(r->name()) << "</td><td>" << FormatDuration(r->interval()) << "</td><td>"
      << FormatDuration(r->timeout()) << "</td>";
    if (v.overrunning) {
      o << "<td class=\"fail\">running past its timeout</td><td>" << v.overrun_seconds << "s</td><td></td>";
    } else if (!v.snapshot) {
      o << "<td>pending</td><td></td><td></td>";
    } else {
      o << "<td class=\"" << (v.snapshot->success ? "ok\">ok" : "fail\">failed") << "</td><td>"
        << v.snapshot->duration_seconds << "s</td><td>" << HtmlEscape(v.snapshot->error) << "</td>";
    }
    o << "</tr>\n";
  }
  o << "</table>\n</body></html>\n";
  return o.str();
}

}  // namespace mailstack
