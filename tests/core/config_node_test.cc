// ConfigNode on its own: every accessor's value, default and error text with
// its file:line:column, independent of any collector's options.
#include "collectors/core/config_node.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

namespace mailstack {
namespace {

ConfigNode Parse(const std::string& yaml) {
  auto root = ParseYaml(yaml, "c.yml");
  EXPECT_TRUE(root.ok()) << root.status().message();
  return root.ok() ? *root : ConfigNode(YAML::Node(), nullptr, "");
}

template <typename T>
std::string ErrorOf(const Result<T>& r) {
  return r.ok() ? "(ok)" : r.status().message();
}
std::string ErrorOf(const Status& s) { return s.ok() ? "(ok)" : s.message(); }

TEST(ConfigNodeTest, ScalarsAndTheirErrors) {
  auto root = Parse("s: text\nb: maybe\nd: 90s\nm: {a: 1}\nl: [1]\nn:\n");
  EXPECT_EQ(*root["s"].AsString(), "text");
  EXPECT_EQ(*root["d"].AsDuration(), std::chrono::seconds(90));
  EXPECT_EQ(ErrorOf(root["b"].AsBool()), "c.yml:2:4: b: must be true or false (got \"maybe\")");
  EXPECT_EQ(ErrorOf(root["m"].AsString()), "c.yml:4:4: m: must be a string (got a map)");
  EXPECT_EQ(ErrorOf(root["l"].AsString()), "c.yml:5:4: l: must be a string (got a list)");
  EXPECT_EQ(ErrorOf(root["s"].AsDuration()).rfind("c.yml:1:4: s: ", 0), 0u) << ErrorOf(root["s"].AsDuration());
  // Missing and null keys take the default; a missing one points at its parent.
  EXPECT_EQ(*root["missing"].AsString("def"), "def");
  EXPECT_EQ(*root["n"].AsString("def"), "def");
  EXPECT_TRUE(*root["missing"].AsBool(true));
  EXPECT_EQ(root["m"]["a"].path(), "m.a");
  EXPECT_EQ(ErrorOf(root["m"]["zz"].AsString()).rfind("c.yml:4:4: m.zz: ", 0), 0u)
      << ErrorOf(root["m"]["zz"].AsString());
}

TEST(ConfigNodeTest, ExpectMapNamesUnknownAndDuplicateKeysAndAcceptsImplicitOnes) {
  auto root = Parse("a:\n  x: 1\n  y: 2\n  x: 3\nb:\n  enabled: true\n  z: 1\n");
  EXPECT_EQ(ErrorOf(root["a"].ExpectMap({"x", "y"})), "c.yml:4:3: a.x: duplicate key (first defined at line 2)");
  EXPECT_EQ(ErrorOf(root["b"].ExpectMap({"z"})), "c.yml:6:3: b.enabled: unknown key (allowed: z)");
  EXPECT_TRUE(root["b"].WithImplicitKeys({"enabled"}).ExpectMap({"z"}).ok());
  EXPECT_TRUE(root["missing"].ExpectMap({"z"}).ok());  // missing: an empty map
}

TEST(ConfigNodeTest, AsOneOf) {
  auto root = Parse("mode: spool\nbad: queue\nlist: [spool]\n");
  EXPECT_EQ(*root["mode"].AsOneOf({"showq", "spool"}), "spool");
  EXPECT_EQ(*root["missing"].AsOneOf({"showq", "spool"}, "showq"), "showq");
  EXPECT_EQ(ErrorOf(root["bad"].AsOneOf({"showq", "spool"}, "showq")),
            "c.yml:2:6: bad: must be one of showq, spool (got \"queue\")");
  EXPECT_FALSE(root["missing"].AsOneOf({"showq", "spool"}).ok());  // no default: required
  EXPECT_EQ(ErrorOf(root["list"].AsOneOf({"spool"})), "c.yml:3:7: list: must be a string (got a list)");
}

TEST(ConfigNodeTest, AsUniqueStringListChecksEachItemAndReportsTheUsersSpelling) {
  auto root = Parse("paths: [/a, /b]\nrel: [/a, b]\ndup: [/a, /b, /a]\nsel: [Mail, other, mail]\nnot: x\n");
  auto lower = [](const std::string& s) {
    std::string out = s;
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  EXPECT_EQ(*root["paths"].AsUniqueStringList("path", ConfigNode::CheckAbsolutePath),
            (std::vector<std::string>{"/a", "/b"}));
  EXPECT_TRUE(root["missing"].AsUniqueStringList("path", ConfigNode::CheckAbsolutePath)->empty());
  EXPECT_EQ(ErrorOf(root["rel"].AsUniqueStringList("path", ConfigNode::CheckAbsolutePath)),
            "c.yml:2:11: rel[1]: must be an absolute path (got \"b\")");
  EXPECT_EQ(ErrorOf(root["dup"].AsUniqueStringList("path", nullptr)), "c.yml:3:15: dup[2]: duplicate path \"/a\"");
  // Compared in normal form, reported as written, returned normalized.
  EXPECT_EQ(ErrorOf(root["sel"].AsUniqueStringList("selector", nullptr, lower)),
            "c.yml:4:20: sel[2]: duplicate selector \"mail\"");
  auto first_two = Parse("sel: [Mail, MAIL]\n");
  EXPECT_EQ(ErrorOf(first_two["sel"].AsUniqueStringList("selector", nullptr, lower)),
            "c.yml:1:13: sel[1]: duplicate selector \"MAIL\"");
  auto ok = Parse("sel: [Mail, Other]\n");
  EXPECT_EQ(*ok["sel"].AsUniqueStringList("selector", nullptr, lower), (std::vector<std::string>{"mail", "other"}));
  EXPECT_EQ(ErrorOf(root["not"].AsUniqueStringList("path", nullptr)),
            "c.yml:5:6: not: must be a list of strings (got a scalar \"x\")");
}

TEST(ConfigNodeTest, AbsolutePaths) {
  auto root = Parse("a: /etc/x\nr: etc/x\ne: \"\"\n");
  EXPECT_EQ(*root["a"].AsAbsolutePath(), "/etc/x");
  EXPECT_EQ(ErrorOf(root["r"].AsAbsolutePath()), "c.yml:2:4: r: must be an absolute path (got \"etc/x\")");
  EXPECT_EQ(ErrorOf(root["r"].AsAbsolutePath("")), "c.yml:2:4: r: must be an absolute path (got \"etc/x\")");
  // An explicit "" is a mistake, not "use the default".
  EXPECT_EQ(ErrorOf(root["e"].AsAbsolutePath()), "c.yml:3:4: e: must not be empty");
  EXPECT_EQ(ErrorOf(root["e"].AsAbsolutePath("/default")), "c.yml:3:4: e: must not be empty");
  EXPECT_EQ(*root["missing"].AsAbsolutePath("/default"), "/default");
}

TEST(ConfigNodeTest, UniqueKeysComparesKeysAndShowsTheGivenSpelling) {
  auto root = Parse("x: 1\n");
  UniqueKeys keys("target");
  EXPECT_TRUE(keys.Add(root["x"], "a:25").ok());
  EXPECT_TRUE(keys.Add(root["x"], "b:25").ok());
  EXPECT_EQ(ErrorOf(keys.Add(root["x"], "a:25")), "c.yml:1:4: x: duplicate target \"a:25\"");
  EXPECT_EQ(ErrorOf(keys.Add(root["x"], "b:25", "B:25")), "c.yml:1:4: x: duplicate target \"B:25\"");
}

TEST(ConfigNodeTest, ListsMapsAndEntries) {
  auto root = Parse("l: [a, b]\nm: {k: v, j: w}\ns: x\n");
  EXPECT_EQ(*root["l"].AsStringList(), (std::vector<std::string>{"a", "b"}));
  auto items = root["l"].Items();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].path(), "l[1]");
  EXPECT_EQ(ErrorOf(root["s"].ExpectList()), "c.yml:3:4: s: must be a list (got a scalar \"x\")");
  auto map = root["m"].AsStringMap();
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->at("j"), "w");
  EXPECT_EQ(root["m"].Entries().size(), 2u);
}

}  // namespace
}  // namespace mailstack
