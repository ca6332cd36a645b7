// Strict, position-aware access to one YAML node of the config file.
// Every error names "file:line:column: key.path: what is wrong". Collectors
// parse their own section with it; the daemon parses the top level with it.
// Thread-safety: immutable after construction; yaml-cpp nodes are not safe to
// share across threads, so use a ConfigNode only on the loading thread.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "collectors/core/duration.h"
#include "collectors/core/status.h"

namespace mailstack {

class ConfigNode {
 public:
  // `file` is the name used in messages; `path` the key path ("" for root).
  ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path);

  const std::string& path() const { return path_; }
  bool defined() const { return node_.IsDefined(); }
  bool null() const { return node_.IsDefined() && node_.IsNull(); }
  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }

  // "file:line:col: path: msg" at this node (or its parent's position when the
  // key is missing; yaml-cpp gives missing nodes no position).
  Status Error(std::string_view msg) const;
  std::string Location() const;

  // Keys always accepted by ExpectMap on this node besides its `allowed` ones
  // (the runner's per-collector keys: enabled, interval, timeout).
  ConfigNode WithImplicitKeys(std::vector<std::string> keys) const;

  // OK for a map (or null/missing, treated as empty) whose keys are all in
  // `allowed` or the implicit keys and appear once.
  Status ExpectMap(std::initializer_list<std::string_view> allowed) const;
  // The same for a map whose keys are free-form (type and duplicates only).
  Status ExpectMapAnyKeys() const;

  // Child by key; missing children are undefined nodes with the parent's mark.
  ConfigNode operator[](std::string_view key) const;
  // Elements of a list, paths "path[i]". Empty for null/missing.
  // REQUIRES: !defined() || null() || is_sequence() (check with ExpectList).
  std::vector<ConfigNode> Items() const;
  Status ExpectList() const;
  // Entries of a map, in file order, duplicates included.
  struct Entry;
  std::vector<Entry> Entries() const;

  Result<std::string> AsString() const;
  Result<bool> AsBool() const;
  Result<Duration> AsDuration() const;
  Result<std::vector<std::string>> AsStringList() const;
  // A map of string to string (e.g. services.processes).
  Result<std::map<std::string, std::string>> AsStringMap() const;

  // The node's content in one canonical text: map keys sorted, positions and
  // comments dropped, scalars with their tag (quoted or plain). Equal for
  // two sections that configure the same thing, whatever their layout; a
  // reload compares sections with it.
  std::string Canonical() const;

  // A string that must be one of `allowed` (`def` when missing or null):
  // "must be one of a, b, c (got \"x\")".
  Result<std::string> AsOneOf(std::initializer_list<std::string_view> allowed, std::string def) const;
  Result<std::string> AsOneOf(std::initializer_list<std::string_view> allowed) const;
  // A list of strings (empty when missing or null), each checked by `check`
  // (an error at the item, or OK) and unique: "duplicate <what> \"x\"" at the
  // repeat, in the user's spelling. `normalize` maps an item to the form compared and returned.
  Result<std::vector<std::string>> AsUniqueStringList(
      std::string_view what, const std::function<Status(const ConfigNode& item, const std::string& value)>& check,
      const std::function<std::string(const std::string&)>& normalize = nullptr) const;

  // A string that must start with '/': "must be an absolute path (got ...)".
  // CheckAbsolutePath is the same check for AsUniqueStringList.
  static Status CheckAbsolutePath(const ConfigNode& item, const std::string& value);
  Result<std::string> AsAbsolutePath() const;

  // The same with a default used when the key is missing or null.
  Result<std::string> AsString(std::string def) const;
  // An explicit empty string is an error like in AsString ("must not be
  // empty"): leave the key out to get the default.
  Result<std::string> AsAbsolutePath(std::string def) const;
  Result<bool> AsBool(bool def) const;
  Result<Duration> AsDuration(Duration def) const;

 private:
  ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path, YAML::Mark fallback,
             std::shared_ptr<const std::vector<std::string>> implicit);
  std::string KindName() const;
  Status CheckMap(const std::initializer_list<std::string_view>* allowed_keys) const;
  Result<std::string> Scalar(std::string_view want) const;

  YAML::Node node_;
  std::shared_ptr<const std::string> file_;
  std::string path_;
  YAML::Mark fallback_mark_;  // where to point when node_ has no mark
  std::shared_ptr<const std::vector<std::string>> implicit_keys_;
};

// Keys of a list's items that must be unique (target names, domains,
// selectors): Add() fails at `at` for a key seen before,
// "duplicate <what> \"key\"".
class UniqueKeys {
 public:
  explicit UniqueKeys(std::string what) : what_(std::move(what)) {}
  Status Add(const ConfigNode& at, const std::string& key);
  // The same for a key compared in a canonical form (lower case) whose
  // message shows `shown`, the spelling the user wrote.
  Status Add(const ConfigNode& at, const std::string& key, std::string_view shown);

 private:
  std::string what_;
  std::set<std::string> seen_;
};

struct ConfigNode::Entry {
  std::string key;
  ConfigNode key_node;  // for errors about the key itself
  ConfigNode value;
};

// Parses YAML text into a root ConfigNode; syntax errors carry file:line:col.
Result<ConfigNode> ParseYaml(const std::string& text, const std::string& file_name);

}  // namespace mailstack
