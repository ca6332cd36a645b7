#include "exporter/exposition.h"

#include <charconv>
#include <cmath>

namespace mailstack {
namespace {

const char* TypeName(prometheus::MetricType t) {
  switch (t) {
    case prometheus::MetricType::Counter: return "counter";
    case prometheus::MetricType::Gauge: return "gauge";
    case prometheus::MetricType::Summary: return "summary";
    case prometheus::MetricType::Histogram: return "histogram";
    case prometheus::MetricType::Untyped: return "untyped";
  }
  return "untyped";
}

void AppendLabelValue(std::string* out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      *out += "\\\\";
    else if (c == '"')
      *out += "\\\"";
    else if (c == '\n')
      *out += "\\n";
    else
      *out += c;
  }
}

}  // namespace

void AppendValue(std::string* out, double value) {
  if (std::isnan(value)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    *out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, r.ptr);
}

void AppendHeader(std::string* out, const MetricDesc& desc) {
  *out += "# HELP ";
  *out += desc.name;
  *out += ' ';
  if (desc.help.find_first_of("\\\n") == std::string_view::npos)
    *out += desc.help;  // the usual case
  else
    *out += EscapeHelp(desc.help);
  *out += "\n# TYPE ";
  *out += desc.name;
  *out += ' ';
  *out += TypeName(desc.type);
  *out += '\n';
}

void AppendSample(std::string* out, std::string_view name, LabelList labels, double value) {
  *out += name;
  if (labels.size() > 0) {
    *out += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) *out += ',';
      first = false;
      *out += k;
      *out += "=\"";
      AppendLabelValue(out, v);
      *out += '"';
    }
    *out += '}';
  }
  *out += ' ';
  AppendValue(out, value);
  *out += '\n';
}

void AppendMetric(std::string* out, const MetricDesc& desc, double value) {
  AppendHeader(out, desc);
  AppendSample(out, desc.name, {}, value);
}

}  // namespace mailstack
