#include "collectors/postfix_queue_collector.h"

#include <array>
#include <chrono>
#include <limits>

#include "collectors/core/logging.h"
#include "collectors/net/socket.h"
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

struct QueueStats {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t recipients = 0;
  int64_t oldest_arrival = std::numeric_limits<int64_t>::max();
  double age_sum = 0;
  std::vector<uint64_t> buckets = std::vector<uint64_t>(kAgeBuckets.size(), 0);
};

struct InstanceStats {
  std::array<QueueStats, kQueueCount> queues;
  std::array<uint64_t, kDeferReasonCount> deferred_reasons{};
};

bool IsValidShowqAddress(const std::string& a) {
  if (a.empty()) return false;
  if (a[0] == '/') return true;
  auto colon = a.rfind(':');
  return colon != std::string::npos && colon > 0 && colon + 1 < a.size();
}

}  // namespace

Result<PostfixQueueCollector::Options> PostfixQueueCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  if (auto s = section.ExpectMap({"instances"}); !s.ok()) return s;
  auto list = section["instances"];
  if (!list.defined() || list.null()) return o;
  if (auto s = list.ExpectList(); !s.ok()) return s;
  o.instances.clear();
  for (const auto& item : list.Items()) {
    if (auto s = item.ExpectMap({"name", "showq"}); !s.ok()) return s;
    if (!item.is_map()) return item.Error("must be a map with name and showq");
    auto name = item["name"].AsString();
    if (!name.ok()) return name.status();
    auto showq = item["showq"].AsString();
    if (!showq.ok()) return showq.status();
    if (!IsValidShowqAddress(*showq)) {
      return item["showq"].Error("must be an absolute unix socket path or HOST:PORT (got \"" + *showq + "\")");
    }
    for (const auto& prev : o.instances) {
      if (prev.name == *name) return item["name"].Error("duplicate instance name \"" + *name + "\"");
    }
    o.instances.push_back({*name, *showq});
  }
  if (o.instances.empty()) return list.Error("must list at least one instance");
  return o;
}

std::vector<MetricDesc> PostfixQueueCollector::Describe() const {
  return {kUp, kMessages, kBytes, kRecipients, kOldest, kAge, kDeferred};
}

Status PostfixQueueCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  for (const auto& desc : Describe()) sink.Declare(desc);
  for (const auto& inst : options_.instances) {
    const std::string_view iname = inst.name;
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    InstanceStats st;
    parse::ShowqParser parser([&](const parse::ShowqMessage& m) {
      auto& q = st.queues[static_cast<size_t>(m.queue)];
      ++q.messages;
      q.bytes += static_cast<uint64_t>(m.size);
      q.recipients += m.recipients;
      if (m.arrival_time < q.oldest_arrival) q.oldest_arrival = m.arrival_time;
      const double age = m.arrival_time < now ? static_cast<double>(now - m.arrival_time) : 0.0;
      q.age_sum += age;
      for (size_t b = 0; b < kAgeBuckets.size(); ++b) {
        if (age <= kAgeBuckets[b]) ++q.buckets[b];
      }
      if (m.queue == parse::Queue::kDeferred) {
        for (size_t r = 0; r < kDeferReasonCount; ++r) st.deferred_reasons[r] += m.reasons[r];
      }
    });
    Status status;
    auto fd = net::Connect(inst.showq, ctx.deadline);
    if (!fd.ok()) {
      status = fd.status();
    } else {
      status = net::ReadUntilEof(fd->get(), ctx.deadline, [&](std::string_view d) { return parser.Feed(d); });
      if (status.ok()) status = parser.Finish();
      status = status.WithContext("showq " + inst.showq);
    }
    if (!status.ok()) {
      sink.Gauge(kUp, {{"postfix_instance", iname}}, 0);
      auto& last = last_error_[inst.name];
      if (last != status.message()) {
        MS_LOG(kWarn, "cannot read the Postfix queue", {{"postfix_instance", inst.name}, {"err", status.message()}});
        last = status.message();
      }
      continue;
    }
    if (auto it = last_error_.find(inst.name); it != last_error_.end()) {
      MS_LOG(kInfo, "Postfix queue readable again", {{"postfix_instance", inst.name}});
      last_error_.erase(it);
    }
    sink.Gauge(kUp, {{"postfix_instance", iname}}, 1);
    for (size_t qi = 0; qi < kQueueCount; ++qi) {
      const auto& q = st.queues[qi];
      LabelList labels = {{"postfix_instance", iname}, {"queue", kQueueNames[qi]}};
      sink.Gauge(kMessages, labels, static_cast<double>(q.messages));
      sink.Gauge(kBytes, labels, static_cast<double>(q.bytes));
      sink.Gauge(kRecipients, labels, static_cast<double>(q.recipients));
      sink.Gauge(kOldest, labels,
                 q.messages == 0 || q.oldest_arrival >= now ? 0.0 : static_cast<double>(now - q.oldest_arrival));
      sink.Histogram(kAge, labels, kAgeBuckets, q.buckets, q.age_sum, q.messages);
    }
    for (size_t r = 0; r < kDeferReasonCount; ++r) {
      sink.Gauge(kDeferred, {{"postfix_instance", iname}, {"reason", kDeferReasonNames[r]}},
                 static_cast<double>(st.deferred_reasons[r]));
    }
  }
  return Status::Ok();
}

}  // namespace mailstack
