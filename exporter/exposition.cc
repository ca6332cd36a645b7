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

void AppendSample(std::string* out, const MetricDesc& desc, std::span<const std::string_view> values, double value) {
  *out += desc.name;
  if (!values.empty()) {
    *out += '{';
    for (size_t i = 0; i < values.size() && i < desc.labels.size(); ++i) {
      if (i > 0) *out += ',';
      *out += desc.labels[i];
      *out += "=\"";
      AppendLabelValue(out, values[i]);
      *out += '"';
    }
    *out += '}';
  }
  *out += ' ';
  AppendValue(out, value);
  *out += '\n';
}

}  // namespace mailstack
