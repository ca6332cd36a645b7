// A collector's output flattened for assertions, in two shapes.
#pragma once

#include <prometheus/metric_family.h>

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

}  // namespace mailstack::testing
