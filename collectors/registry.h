// The explicit table of collectors: name -> default enabled, create from the
// collector's YAML section. Adding a collector is one line in registry.cc.
// (No self-registering statics: the linker drops them from static libraries.)
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "collectors/core/collector.h"
#include "collectors/core/config_node.h"

namespace mailstack {

struct CollectorSpec {
  std::string_view name;         // config key and value of the `collector` label
  bool default_enabled;          // runs with default options when its section is absent
  std::string_view description;  // one line for --help, --config.check and the landing page
  // Parses the section (the runner's keys enabled/interval/timeout are already
  // allowed and handled) and builds the collector. An absent section is an
  // undefined node: use the defaults.
  std::function<Result<std::unique_ptr<Collector>>(const ConfigNode& section)> create;
};

const std::vector<CollectorSpec>& CollectorRegistry();
const CollectorSpec* FindCollector(std::string_view name);

}  // namespace mailstack
