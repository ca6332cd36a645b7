// The explicit table of collectors: name -> default enabled, description,
// create from the collector's YAML section, families. Adding a collector is
// one entry in registry.cc (plus its sources in collectors/CMakeLists.txt,
// its README metric rows and its alerts). No self-registering statics: the
// linker drops them from static libraries.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"
#include "collectors/core/duration.h"

namespace mailstack {

struct CollectorSpec {
  std::string_view name;         // config key and value of the `collector` label
  bool default_enabled;          // runs with default options when its section is absent
  std::string_view description;  // one line for --help, --config.check and the landing page
  // Parses the section (the runner's keys enabled/interval/timeout are already
  // allowed and handled) and builds the collector. An absent section is an
  // undefined node: use the defaults.
  std::function<Result<std::unique_ptr<Collector>>(const ConfigNode& section)> create;
  // Every family the collector may emit (what its Describe() returns), for
  // the registry test and the README's metric table.
  std::vector<MetricDesc> (*families)();
  // When set, the collector's interval and timeout unless its section sets
  // them; `defaults` does not apply to it (logs reads every 5s).
  Duration default_interval{0};
  Duration default_timeout{0};
};

const std::vector<CollectorSpec>& CollectorRegistry();
const CollectorSpec* FindCollector(std::string_view name);

}  // namespace mailstack
