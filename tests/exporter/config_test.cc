#include "exporter/config.h"

#include "collectors/core/config_node.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include <unistd.h>

namespace mailstack {
namespace {

using namespace std::chrono_literals;

struct BadCase {
  const char* name;
  const char* yaml;
  const char* message;
};

// Every way a config can be wrong, with the exact message the user sees.
const BadCase kBadConfigs[] = {
    {"unknown_top_key", "defualts:\n  interval: 30s\n",
     "t.yml:1:1: defualts: unknown key (allowed: defaults, collectors)"},
    {"duplicate_top_key", "defaults: {}\ndefaults: {}\n",
     "t.yml:2:1: defaults: duplicate key (first defined at line 1)"},
    {"top_level_list", "- a\n- b\n", "t.yml:1:1: must be a map (got a list)"},
    {"bad_duration", "defaults:\n  interval: 30\n",
     "t.yml:2:13: defaults.interval: not a duration (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"30\")"},
    {"fractional_duration", "defaults:\n  timeout: 1.5s\n",
     "t.yml:2:12: defaults.timeout: not a duration (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"1.5s\")"},
    {"duration_is_a_list", "defaults:\n  interval: [30s]\n",
     "t.yml:2:13: defaults.interval: must be a duration (got a list)"},
    {"timeout_equals_interval", "defaults:\n  interval: 10s\n  timeout: 10s\n",
     "t.yml:3:12: defaults.timeout: timeout (10s) must be less than interval (10s)"},
    {"timeout_above_interval", "defaults:\n  interval: 1m\n  timeout: 2m\n",
     "t.yml:3:12: defaults.timeout: timeout (2m) must be less than interval (1m)"},
    {"interval_too_short", "defaults:\n  interval: 500ms\n  timeout: 100ms\n",
     "t.yml:2:13: defaults.interval: interval must be at least 1s (got 500ms)"},
    {"zero_timeout", "defaults:\n  timeout: 0s\n", "t.yml:2:12: defaults.timeout: timeout must be greater than 0s"},
    {"unknown_defaults_key", "defaults:\n  intreval: 30s\n",
     "t.yml:2:3: defaults.intreval: unknown key (allowed: interval, timeout)"},
    {"unknown_collector", "collectors:\n  postfx: {}\n",
     "t.yml:2:3: collectors.postfx: unknown collector (known: filesystem, postfix_queue, certificates, probes, dns, "
     "logs, services)"},
    {"duplicate_collector", "collectors:\n  filesystem: {}\n  filesystem: {}\n",
     "t.yml:3:3: collectors.filesystem: duplicate key (first defined at line 2)"},
    {"collectors_is_list", "collectors:\n  - filesystem\n", "t.yml:2:3: collectors: must be a map (got a list)"},
    {"collector_section_is_list", "collectors:\n  filesystem: [a]\n",
     "t.yml:2:15: collectors.filesystem: must be a map (got a list)"},
    {"collector_unknown_key", "collectors:\n  filesystem:\n    pathz: [/]\n",
     "t.yml:3:5: collectors.filesystem.pathz: unknown key (allowed: paths, enabled, interval, timeout)"},
    {"collector_duplicate_key", "collectors:\n  filesystem:\n    paths: [/]\n    paths: [/var]\n",
     "t.yml:4:5: collectors.filesystem.paths: duplicate key (first defined at line 3)"},
    {"paths_not_a_list", "collectors:\n  filesystem:\n    paths: /var\n",
     "t.yml:3:12: collectors.filesystem.paths: must be a list of strings (got a scalar \"/var\")"},
    {"path_not_absolute", "collectors:\n  filesystem:\n    paths: [/, var/mail]\n",
     "t.yml:3:16: collectors.filesystem.paths[1]: must be an absolute path (got \"var/mail\")"},
    {"path_is_a_map", "collectors:\n  filesystem:\n    paths:\n      - {a: b}\n",
     "t.yml:4:9: collectors.filesystem.paths[0]: must be a string (got a map)"},
    {"duplicate_path", "collectors:\n  filesystem:\n    paths: [/, /]\n",
     "t.yml:3:16: collectors.filesystem.paths[1]: duplicate path \"/\""},
    {"collector_interval_below_default_timeout", "collectors:\n  filesystem:\n    interval: 5s\n",
     "t.yml:3:15: collectors.filesystem.interval: timeout (10s) must be less than interval (5s)"},
    {"collector_timeout_too_long", "collectors:\n  filesystem:\n    timeout: 1h\n",
     "t.yml:3:14: collectors.filesystem.timeout: timeout (1h) must be less than interval (30s)"},
    {"enabled_not_bool", "collectors:\n  filesystem:\n    enabled: maybe\n",
     "t.yml:3:14: collectors.filesystem.enabled: must be true or false (got \"maybe\")"},
    {"syntax_unclosed_flow", "defaults:\n  interval: [30s\n", "t.yml:3:1: end of sequence flow not found"},
    {"syntax_tab_indent", "defaults:\n\tinterval: 30s\n", "t.yml:2:10: illegal map value"},
};

class BadConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, NamesFileLineColumnAndKeyPath) {
  const auto& c = GetParam();
  auto cfg = ParseConfig(c.yaml, "t.yml");
  ASSERT_FALSE(cfg.ok()) << "accepted:\n" << c.yaml;
  EXPECT_EQ(cfg.status().message(), c.message) << c.yaml;
  EXPECT_EQ(cfg.status().code(), Status::Code::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllMistakes, BadConfigTest, ::testing::ValuesIn(kBadConfigs),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigTest, EmptyFileGivesDefaultsAndDefaultCollectors) {
  auto cfg = ParseConfig("", "t.yml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(cfg->default_interval, 30s);
  EXPECT_EQ(cfg->default_timeout, 10s);
  ASSERT_EQ(cfg->collectors.size(), 3u);
  EXPECT_EQ(cfg->collectors[0].name, "filesystem");
  EXPECT_EQ(cfg->collectors[0].interval, 30s);
  EXPECT_EQ(cfg->collectors[0].timeout, 10s);
  EXPECT_EQ(cfg->collectors[1].name, "postfix_queue");
  // logs has its own cadence, whatever `defaults` say.
  EXPECT_EQ(cfg->collectors[2].name, "logs");
  EXPECT_EQ(cfg->collectors[2].interval, 5s);
  EXPECT_EQ(cfg->collectors[2].timeout, 4s);
  auto slow = ParseConfig("defaults: {interval: 2m, timeout: 1m}\ncollectors: {logs: {interval: 10s}}\n", "t.yml");
  ASSERT_TRUE(slow.ok()) << slow.status().message();
  EXPECT_EQ(slow->collectors[2].interval, 10s);
  EXPECT_EQ(slow->collectors[2].timeout, 4s);
}

TEST(ConfigTest, PerCollectorOverridesAndDisable) {
  auto cfg = ParseConfig(
      "defaults: {interval: 1m, timeout: 20s}\ncollectors:\n  filesystem: {interval: 2m, timeout: 1m30s}\n"
      "  postfix_queue: {enabled: false}\n  logs: {enabled: false}\n",
      "t.yml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_EQ(cfg->collectors.size(), 1u);
  EXPECT_EQ(cfg->collectors[0].interval, 2min);
  EXPECT_EQ(cfg->collectors[0].timeout, 90s);

  auto off = ParseConfig("collectors:\n  filesystem:\n    enabled: false\n  logs: {enabled: false}\n", "t.yml");
  ASSERT_TRUE(off.ok()) << off.status().message();
  ASSERT_EQ(off->collectors.size(), 1u);
  EXPECT_EQ(off->collectors[0].name, "postfix_queue");
  // Off: filesystem explicitly, certificates and services by default (no section).
  EXPECT_EQ(off->disabled,
            (std::vector<std::string>{"filesystem", "certificates", "probes", "dns", "logs", "services"}));
}

TEST(ConfigTest, EmbeddedDefaultParses) {
  auto cfg = ParseConfig(kEmbeddedDefaultConfig, kEmbeddedConfigName);
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(cfg->source, "<embedded default config>");
  ASSERT_EQ(cfg->collectors.size(), 5u);
  EXPECT_EQ(cfg->collectors[2].name, "probes");
  EXPECT_EQ(cfg->collectors[3].name, "logs");
  EXPECT_EQ(cfg->collectors[4].name, "services");
}

TEST(ConfigTest, MissingExplicitFileIsAnErrorButMissingDefaultFileIsNot) {
  auto missing = LoadConfig("/nonexistent/mailstack.yml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "/nonexistent/mailstack.yml: No such file or directory");
  if (::access(kDefaultConfigPath, F_OK) != 0) {
    auto embedded = LoadConfig(kDefaultConfigPath);
    ASSERT_TRUE(embedded.ok()) << embedded.status().message();
    EXPECT_EQ(embedded->source, kEmbeddedConfigName);
  }
}

TEST(ConfigTest, LoadsFileWithItsPathInErrors) {
  std::string path = ::testing::TempDir() + "/mailstack_config_test" + std::to_string(::getpid()) + ".yml";
  {
    std::ofstream out(path);
    out << "collectors:\n  filesystem:\n    paths: [/tmp]\n    bogus: 1\n";
  }
  auto cfg = LoadConfig(path);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().message(),
            path + ":4:5: collectors.filesystem.bogus: unknown key (allowed: paths, enabled, interval, timeout)");
}

}  // namespace
}  // namespace mailstack

namespace mailstack {
namespace {

// Fingerprint of `name` in `yaml` ("" if the collector is off).
std::string Fingerprint(const std::string& yaml, const std::string& name) {
  auto cfg = ParseConfig(yaml, "t.yml");
  EXPECT_TRUE(cfg.ok()) << cfg.status().message();
  if (!cfg.ok()) return "";
  for (const auto& c : cfg->collectors) {
    if (c.name == name) return c.fingerprint;
  }
  return "";
}

// A reload keeps a collector whose fingerprint is unchanged: it must not
// change for layout, comments or key order, and must change for anything the
// collector or its schedule would see.
TEST(ConfigTest, FingerprintIgnoresLayoutAndSeesEveryValueAndTheEffectiveSchedule) {
  const std::string base =
      "collectors:\n"
      "  filesystem:\n"
      "    paths: [/, /var]\n"
      "  postfix_queue:\n"
      "    instances: [{name: postfix, queue_directory: /var/spool/postfix}]\n";
  const std::string fs = Fingerprint(base, "filesystem");
  ASSERT_FALSE(fs.empty());
  EXPECT_NE(fs, Fingerprint(base, "postfix_queue"));
  // Same content: block style, comments, key order.
  EXPECT_EQ(fs, Fingerprint("# ours\ncollectors:\n  postfix_queue:\n    instances:\n"
                            "      - queue_directory: /var/spool/postfix   # spool mode\n"
                            "        name: postfix\n"
                            "  filesystem:\n    paths:\n      - /\n      - /var\n",
                            "filesystem"));
  EXPECT_EQ(Fingerprint(base, "postfix_queue"),
            Fingerprint("collectors:\n  postfix_queue:\n    instances:\n"
                        "      - {queue_directory: /var/spool/postfix, name: postfix}\n",
                        "postfix_queue"));
  // A changed value, a changed order of a list, an explicit default.
  EXPECT_NE(fs, Fingerprint("collectors:\n  filesystem:\n    paths: [/, /srv]\n", "filesystem"));
  EXPECT_NE(fs, Fingerprint("collectors:\n  filesystem:\n    paths: [/var, /]\n", "filesystem"));
  EXPECT_NE(fs, Fingerprint("collectors:\n  filesystem:\n    paths: [/, /var]\n    interval: 30s\n", "filesystem"))
      << "the section changed even though the interval is the default";
  // The defaults a collector inherits are part of it; an explicit value shields it.
  const std::string explicit_timing = "collectors:\n  filesystem:\n    paths: [/]\n    interval: 1m\n    timeout: 5s\n";
  const std::string inherits = "collectors:\n  filesystem:\n    paths: [/]\n";
  EXPECT_NE(Fingerprint(inherits, "filesystem"), Fingerprint("defaults: {interval: 1m}\n" + inherits, "filesystem"));
  EXPECT_NE(Fingerprint(inherits, "filesystem"), Fingerprint("defaults: {timeout: 5s}\n" + inherits, "filesystem"));
  EXPECT_EQ(Fingerprint(explicit_timing, "filesystem"),
            Fingerprint("defaults: {interval: 2m, timeout: 20s}\n" + explicit_timing, "filesystem"));
  // A collector on by default with no section: its fingerprint is its schedule.
  EXPECT_EQ(Fingerprint("", "postfix_queue"), Fingerprint("# nothing\n", "postfix_queue"));
  EXPECT_NE(Fingerprint("", "postfix_queue"), Fingerprint("defaults: {interval: 1m}\n", "postfix_queue"));
}

TEST(ConfigNodeTest, CanonicalSortsKeysKeepsListOrderAndTellsQuotedFromPlain) {
  auto a = ParseYaml("b: [1, x]\na: {d: null, c: \"1\"}\n", "a.yml");
  auto b = ParseYaml("a:\n  c: \"1\"\n  d:\nb:\n  - 1\n  - x\n", "b.yml");
  auto quoted = ParseYaml("b: [\"1\", x]\na: {d: null, c: \"1\"}\n", "c.yml");
  ASSERT_TRUE(a.ok() && b.ok() && quoted.ok());
  EXPECT_EQ(a->Canonical(), "{=1:a:{=1:c:'1:1,=1:d:~null,},=1:b:[=1:1,=1:x,],}");
  EXPECT_EQ(a->Canonical(), b->Canonical());
  EXPECT_NE(a->Canonical(), quoted->Canonical());
  EXPECT_EQ((*a)["missing"].Canonical(), "~undefined");
}

}  // namespace
}  // namespace mailstack
