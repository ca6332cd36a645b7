// A collector's output flattened for assertions, in two shapes.
#pragma once

#include <prometheus/metric_family.h>

#include "collectors/core/metrics.h"

#include <map>
#include <string>
#include <vector>

namespace mailstack::testing {

// Family -> "label=value,..." ("" without labels) -> value. Every emitted
// family has an entry, samples or not. Counters give counter values, other
// types gauge values; a histogram becomes the families <name>_count, <name>_sum
// and <name>_bucket (key "...,le=<integer bound>").
using FamilySamples = std::map<std::string, std::map<std::string, double>>;
FamilySamples SamplesByFamily(const std::vector<prometheus::MetricFamily>& families);

// "family,label=value,..." -> value, for the same samples.
std::map<std::string, double> FlatSamples(const std::vector<prometheus::MetricFamily>& families);

// The sink's families, after checking (a gtest failure otherwise) that no
// sample was rejected: every collector test then also proves that the
// collector emits only the families its Describe() declares.
std::vector<prometheus::MetricFamily> TakeChecked(MetricSink& sink);

}  // namespace mailstack::testing
