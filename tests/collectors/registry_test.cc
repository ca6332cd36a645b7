// One walk over every collector's families and the exporter's own: names,
// units, families shared by two collectors, and the README's metric table.
#include "collectors/registry.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "exporter/exporter.h"

namespace mailstack {
namespace {

struct Owned {
  MetricDesc desc;
  std::string owner;  // collector name, or "exporter"
};

std::vector<Owned> AllFamilies() {
  std::vector<Owned> out;
  for (const auto& spec : CollectorRegistry()) {
    for (const auto& d : spec.families()) out.push_back({d, std::string(spec.name)});
  }
  for (const auto& d : SelfFamilies()) out.push_back({d, "exporter"});
  return out;
}

std::string TypeName(prometheus::MetricType t) {
  switch (t) {
    case prometheus::MetricType::Counter: return "counter";
    case prometheus::MetricType::Gauge: return "gauge";
    case prometheus::MetricType::Histogram: return "histogram";
    default: return "other";
  }
}

std::string Labels(const MetricDesc& d) {
  std::string out;
  for (auto l : d.labels) out += (out.empty() ? "" : ", ") + std::string(l);
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The last word of every name must be one of these. A new family whose last
// word is not here fails the test: decide then whether it is a unit, a count
// or a 0/1, and add it to the right line.
const std::set<std::string> kBaseUnits = {"seconds", "bytes", "ratio", "total", "info"};
const std::set<std::string> kCounts = {"files",     "free",    "messages", "recipients",
                                       "processes", "lookups", "failures", "fds"};
const std::set<std::string> kBooleansAndStates = {"up",      "valid",      "present", "readonly", "error",
                                                  "success", "successful", "matches", "listed",   "state",
                                                  "failure", "policy",     "ip",      "file"};
// Not base units (Prometheus: seconds, bytes, ratios): anything that says
// one of these in a name is wrong.
const std::vector<std::string> kNonBaseUnits = {"_milliseconds", "_microseconds", "_minutes",   "_hours",  "_days",
                                                "_bits",         "_kilobytes",    "_megabytes", "_percent"};

TEST(RegistryTest, EveryFamilyHasThePrefixAndAUnitOrCountOrStateSuffix) {
  for (const auto& [d, owner] : AllFamilies()) {
    const std::string name(d.name);
    SCOPED_TRACE(owner + ": " + name);
    EXPECT_TRUE(name.rfind("mailstack_", 0) == 0 || (owner == "exporter" && name.rfind("process_", 0) == 0));
    const std::string last = name.substr(name.rfind('_') + 1);
    EXPECT_TRUE(kBaseUnits.count(last) || kCounts.count(last) || kBooleansAndStates.count(last))
        << "last word \"" << last << "\" is neither a base unit, a count nor a 0/1 state";
    for (const auto& bad : kNonBaseUnits) EXPECT_EQ(name.find(bad + "_"), std::string::npos) << bad;
    for (const auto& bad : kNonBaseUnits) EXPECT_FALSE(EndsWith(name, bad)) << bad;
    // Counters and only counters end in _total; _info is a gauge of 1.
    EXPECT_EQ(d.type == prometheus::MetricType::Counter, EndsWith(name, "_total"));
    if (EndsWith(name, "_info")) {
      EXPECT_EQ(d.type, prometheus::MetricType::Gauge);
    }
    if (d.type == prometheus::MetricType::Histogram) {
      EXPECT_TRUE(EndsWith(name, "_seconds") || EndsWith(name, "_bytes"));
    }
    EXPECT_FALSE(d.help.empty());
    EXPECT_EQ(d.help.back(), '.') << "help is one sentence ending in a period";
  }
}

TEST(RegistryTest, AFamilyEmittedByTwoCollectorsIsDeclaredIdentically) {
  std::map<std::string_view, std::vector<Owned>> by_name;
  for (const auto& o : AllFamilies()) by_name[o.desc.name].push_back(o);
  int shared = 0;
  for (const auto& [name, owners] : by_name) {
    if (owners.size() < 2) continue;
    ++shared;
    for (const auto& o : owners) {
      EXPECT_TRUE(o.desc == owners[0].desc) << name << ": " << o.owner << " declares " << DescribeLabels(o.desc) << ", "
                                            << owners[0].owner << " " << DescribeLabels(owners[0].desc);
    }
  }
  // certificates and probes both emit the five mailstack_tls_certificate_* families.
  EXPECT_EQ(shared, 5);
  EXPECT_EQ(by_name["mailstack_tls_certificate_info"].size(), 2u);
}

TEST(RegistryTest, DescribeOfABuiltCollectorIsItsRegistryFamilies) {
  // Collectors with defaults (the ones on by default need no section).
  for (const auto& spec : CollectorRegistry()) {
    if (!spec.default_enabled) continue;
    auto root = ParseYaml("{}", "test.yml");
    ASSERT_TRUE(root.ok());
    auto c = spec.create((*root)[std::string(spec.name)]);
    ASSERT_TRUE(c.ok()) << spec.name << ": " << c.status().message();
    auto described = (*c)->Describe();
    auto listed = spec.families();
    ASSERT_EQ(described.size(), listed.size()) << spec.name;
    for (size_t i = 0; i < listed.size(); ++i) EXPECT_TRUE(described[i] == listed[i]) << spec.name;
  }
}

// The README's metric table (the table headed "| metric | type | labels |"
// in "## Collectors and metrics") has one row per family:
// | `name` | type | `label`, `label` | ... |. It must list exactly the
// families the code declares, with their types and labels.
TEST(RegistryTest, ReadmeMetricTableListsExactlyTheDeclaredFamilies) {
  std::ifstream in(std::string(MAILSTACK_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in.good());
  std::string line;
  bool in_section = false;
  bool in_table = false;
  std::map<std::string, std::string> readme;  // name -> "type | labels"
  const std::regex row(R"(^\| `([a-z0-9_:]+)` \| ([a-z]+) \| ([^|]*)\|)");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Collectors and metrics";
    if (line.rfind("|", 0) != 0) in_table = false;
    if (line.rfind("| metric | type | labels |", 0) == 0) in_table = true;
    if (!in_section || !in_table || line.rfind("| `", 0) != 0) continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, row)) << "not a one-family row: " << line.substr(0, 80);
    std::string labels = m[3].str();
    labels = std::regex_replace(labels, std::regex("`"), "");
    while (!labels.empty() && labels.back() == ' ') labels.pop_back();
    EXPECT_TRUE(readme.emplace(m[1].str(), m[2].str() + " | " + labels).second) << "listed twice: " << m[1];
  }
  std::map<std::string, std::string> code;
  for (const auto& [d, owner] : AllFamilies()) code[std::string(d.name)] = TypeName(d.type) + " | " + Labels(d);
  for (const auto& [name, what] : code) {
    auto it = readme.find(name);
    if (it == readme.end()) {
      ADD_FAILURE() << "README's metric table does not list " << name << " (" << what << ")";
    } else {
      EXPECT_EQ(it->second, what) << name;
    }
  }
  for (const auto& [name, what] : readme) {
    EXPECT_TRUE(code.count(name)) << "README lists " << name << ", which no collector declares";
  }
  EXPECT_EQ(readme.size(), code.size());
}

}  // namespace
}  // namespace mailstack
