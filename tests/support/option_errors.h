// Table test of a collector's option parser: each YAML must be refused with
// exactly the given message ("t.yml:line:col: key.path: ...").
#pragma once

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "collectors/core/config_node.h"

namespace mailstack::testing {

template <typename Collector>
void ExpectOptionErrors(const std::vector<std::pair<const char*, const char*>>& cases) {
  for (const auto& [yaml, msg] : cases) {
    auto root = ParseYaml(yaml, "t.yml");
    ASSERT_TRUE(root.ok()) << yaml;
    auto o = Collector::ParseOptions(*root);
    ASSERT_FALSE(o.ok()) << yaml;
    EXPECT_EQ(o.status().message(), msg) << yaml;
  }
}

}  // namespace mailstack::testing
