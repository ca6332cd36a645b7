#include "collectors/core/config_node.h"

#include <algorithm>

namespace mailstack {
namespace {

void AppendCanonical(const YAML::Node& n, std::string* out) {
  switch (n.Type()) {
    case YAML::NodeType::Undefined: *out += "~undefined"; return;
    case YAML::NodeType::Null: *out += "~null"; return;
    case YAML::NodeType::Scalar: {
      const std::string& v = n.Scalar();
      *out += n.Tag() == "!" ? "'" : "=";  // quoted or plain: "1" and 1 may differ to a parser
      *out += std::to_string(v.size());
      *out += ':';
      *out += v;
      return;
    }
    case YAML::NodeType::Sequence: {
      *out += '[';
      for (const auto& item : n) {
        AppendCanonical(item, out);
        *out += ',';
      }
      *out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      std::vector<std::pair<std::string, std::string>> entries;
      for (const auto& kv : n) {
        std::string k, v;
        AppendCanonical(kv.first, &k);
        AppendCanonical(kv.second, &v);
        entries.emplace_back(std::move(k), std::move(v));
      }
      std::sort(entries.begin(), entries.end());
      *out += '{';
      for (const auto& [k, v] : entries) {
        *out += k;
        *out += ':';
        *out += v;
        *out += ',';
      }
      *out += '}';
      return;
    }
  }
}

}  // namespace

ConfigNode::ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path)
    : ConfigNode(std::move(node), std::move(file), std::move(path), YAML::Mark::null_mark(), nullptr) {}

ConfigNode::ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path, YAML::Mark fallback,
                       std::shared_ptr<const std::vector<std::string>> implicit)
    : node_(std::move(node)),
      file_(std::move(file)),
      path_(std::move(path)),
      fallback_mark_(fallback),
      implicit_keys_(std::move(implicit)) {}

std::string ConfigNode::Location() const {
  YAML::Mark m = node_.IsDefined() ? node_.Mark() : fallback_mark_;
  if (m.is_null()) m = fallback_mark_;
  std::string out = *file_;
  if (m.is_null()) return out;
  out += ':';
  out += std::to_string(m.line + 1);
  out += ':';
  out += std::to_string(m.column + 1);
  return out;
}

Status ConfigNode::Error(std::string_view msg) const {
  std::string out = Location();
  out += ": ";
  if (!path_.empty()) {
    out += path_;
    out += ": ";
  }
  out += msg;
  return Status::InvalidArgument(std::move(out));
}

ConfigNode ConfigNode::WithImplicitKeys(std::vector<std::string> keys) const {
  return ConfigNode(node_, file_, path_, fallback_mark_,
                    std::make_shared<const std::vector<std::string>>(std::move(keys)));
}

std::string ConfigNode::KindName() const {
  if (!node_.IsDefined()) return "nothing";
  switch (node_.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return "a scalar \"" + node_.Scalar() + "\"";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

Status ConfigNode::ExpectMapAnyKeys() const { return CheckMap(nullptr); }

Status ConfigNode::ExpectMap(std::initializer_list<std::string_view> allowed) const { return CheckMap(&allowed); }

Status ConfigNode::CheckMap(const std::initializer_list<std::string_view>* allowed_keys) const {
  if (!node_.IsDefined() || node_.IsNull()) return Status::Ok();
  if (!node_.IsMap()) return Error("must be a map (got " + KindName() + ")");
  std::vector<std::pair<std::string, int>> seen;  // key, line
  for (const auto& kv : node_) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    std::string child_path = path_.empty() ? key : path_ + "." + key;
    ConfigNode key_node(kv.first, file_, child_path, node_.Mark(), nullptr);
    if (!kv.first.IsScalar()) return key_node.Error("keys must be plain strings");
    bool ok = allowed_keys == nullptr;
    if (!ok) {
      ok = std::find(allowed_keys->begin(), allowed_keys->end(), key) != allowed_keys->end();
    }
    if (!ok && implicit_keys_) {
      ok = std::find(implicit_keys_->begin(), implicit_keys_->end(), key) != implicit_keys_->end();
    }
    if (!ok) {
      std::string list;
      for (auto a : *allowed_keys) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      if (implicit_keys_) {
        for (const auto& a : *implicit_keys_) {
          if (!list.empty()) list += ", ";
          list += a;
        }
      }
      return key_node.Error("unknown key (allowed: " + list + ")");
    }
    for (const auto& [k, line] : seen) {
      if (k == key) {
        return key_node.Error("duplicate key (first defined at line " + std::to_string(line) + ")");
      }
    }
    seen.emplace_back(key, kv.first.Mark().line + 1);
  }
  return Status::Ok();
}

ConfigNode ConfigNode::operator[](std::string_view key) const {
  std::string child_path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  YAML::Mark here = node_.IsDefined() && !node_.Mark().is_null() ? node_.Mark() : fallback_mark_;
  if (!node_.IsMap()) return ConfigNode(YAML::Node(YAML::NodeType::Undefined), file_, child_path, here, nullptr);
  // Iterate rather than node_[key]: const operator[] on a missing key is fine,
  // but iteration also gives the first occurrence deterministically.
  for (const auto& kv : node_) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) {
      return ConfigNode(kv.second, file_, child_path, kv.first.Mark(), nullptr);
    }
  }
  return ConfigNode(YAML::Node(YAML::NodeType::Undefined), file_, child_path, here, nullptr);
}

Status ConfigNode::ExpectList() const {
  if (!node_.IsDefined() || node_.IsNull() || node_.IsSequence()) return Status::Ok();
  return Error("must be a list (got " + KindName() + ")");
}

std::vector<ConfigNode> ConfigNode::Items() const {
  std::vector<ConfigNode> out;
  if (!node_.IsSequence()) return out;
  size_t i = 0;
  for (const auto& item : node_) {
    out.push_back(ConfigNode(item, file_, path_ + "[" + std::to_string(i) + "]", node_.Mark(), nullptr));
    ++i;
  }
  return out;
}

std::vector<ConfigNode::Entry> ConfigNode::Entries() const {
  std::vector<Entry> out;
  if (!node_.IsMap()) return out;
  for (const auto& kv : node_) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    std::string child_path = path_.empty() ? key : path_ + "." + key;
    out.push_back(Entry{key, ConfigNode(kv.first, file_, child_path, node_.Mark(), nullptr),
                        ConfigNode(kv.second, file_, child_path, kv.first.Mark(), nullptr)});
  }
  return out;
}

Result<std::string> ConfigNode::Scalar(std::string_view want) const {
  if (!node_.IsDefined()) return Error("missing required key");
  if (!node_.IsScalar()) return Error("must be " + std::string(want) + " (got " + KindName() + ")");
  return node_.Scalar();
}

Result<std::string> ConfigNode::AsString() const {
  auto s = Scalar("a string");
  if (!s.ok()) return s;
  if (s->empty()) return Error("must not be empty");
  return s;
}

Result<bool> ConfigNode::AsBool() const {
  auto s = Scalar("true or false");
  if (!s.ok()) return s.status();
  if (*s == "true" || *s == "yes" || *s == "on") return true;
  if (*s == "false" || *s == "no" || *s == "off") return false;
  return Error("must be true or false (got \"" + *s + "\")");
}

Result<Duration> ConfigNode::AsDuration() const {
  auto s = Scalar("a duration");
  if (!s.ok()) return s.status();
  auto d = ParseDuration(*s);
  if (!d.ok()) return Error(d.status().message());
  return d;
}

Result<std::vector<std::string>> ConfigNode::AsStringList() const {
  if (!node_.IsDefined()) return Error("missing required key");
  if (!node_.IsSequence()) return Error("must be a list of strings (got " + KindName() + ")");
  std::vector<std::string> out;
  for (const auto& item : Items()) {
    auto s = item.AsString();
    if (!s.ok()) return s.status();
    out.push_back(std::move(s).value());
  }
  return out;
}

Result<std::map<std::string, std::string>> ConfigNode::AsStringMap() const {
  if (!node_.IsDefined()) return Error("missing required key");
  if (!node_.IsMap()) return Error("must be a map of strings (got " + KindName() + ")");
  std::map<std::string, std::string> out;
  for (const auto& kv : node_) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    ConfigNode child(kv.second, file_, path_ + "." + key, kv.first.Mark(), nullptr);
    if (out.count(key)) {
      return ConfigNode(kv.first, file_, path_ + "." + key, node_.Mark(), nullptr).Error("duplicate key");
    }
    auto v = child.AsString();
    if (!v.ok()) return v.status();
    out.emplace(key, std::move(v).value());
  }
  return out;
}

Result<std::string> ConfigNode::AsString(std::string def) const {
  if (!defined() || null()) return def;
  return AsString();
}
Status ConfigNode::CheckAbsolutePath(const ConfigNode& item, const std::string& value) {
  if (value.empty() || value[0] != '/') return item.Error("must be an absolute path (got \"" + value + "\")");
  return Status::Ok();
}

Result<std::string> ConfigNode::AsAbsolutePath() const {
  MS_ASSIGN_OR_RETURN(std::string v, AsString());
  MS_RETURN_IF_ERROR(CheckAbsolutePath(*this, v));
  return v;
}
Result<std::string> ConfigNode::AsAbsolutePath(std::string def) const {
  if (!defined() || null()) return def;
  return AsAbsolutePath();
}
Result<bool> ConfigNode::AsBool(bool def) const {
  if (!defined() || null()) return def;
  return AsBool();
}
Result<Duration> ConfigNode::AsDuration(Duration def) const {
  if (!defined() || null()) return def;
  return AsDuration();
}

Result<ConfigNode> ParseYaml(const std::string& text, const std::string& file_name) {
  auto file = std::make_shared<const std::string>(file_name);
  try {
    YAML::Node root = YAML::Load(text);
    return ConfigNode(root, file, "");
  } catch (const YAML::Exception& e) {
    std::string loc = file_name;
    if (!e.mark.is_null()) {
      loc += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    return Status::InvalidArgument(loc + ": " + e.msg);
  }
}

std::string ConfigNode::Canonical() const {
  std::string out;
  AppendCanonical(node_, &out);
  return out;
}

Result<std::string> ConfigNode::AsOneOf(std::initializer_list<std::string_view> allowed, std::string def) const {
  if (!defined() || null()) return def;
  return AsOneOf(allowed);
}

Result<std::string> ConfigNode::AsOneOf(std::initializer_list<std::string_view> allowed) const {
  MS_ASSIGN_OR_RETURN(std::string v, AsString());
  std::string names;
  for (auto a : allowed) {
    if (a == v) return v;
    names += (names.empty() ? "" : ", ") + std::string(a);
  }
  return Error("must be one of " + names + " (got \"" + v + "\")");
}

Result<std::vector<std::string>> ConfigNode::AsUniqueStringList(
    std::string_view what, const std::function<Status(const ConfigNode& item, const std::string& value)>& check,
    const std::function<std::string(const std::string&)>& normalize) const {
  if (!defined() || null()) return std::vector<std::string>{};
  MS_ASSIGN_OR_RETURN(std::vector<std::string> values, AsStringList());
  const auto items = Items();
  UniqueKeys seen{std::string(what)};
  for (size_t i = 0; i < values.size(); ++i) {
    if (check) MS_RETURN_IF_ERROR(check(items[i], values[i]));
    if (!normalize) {
      MS_RETURN_IF_ERROR(seen.Add(items[i], values[i]));
      continue;
    }
    std::string normal = normalize(values[i]);
    MS_RETURN_IF_ERROR(seen.Add(items[i], normal, values[i]));
    values[i] = std::move(normal);
  }
  return values;
}

Status UniqueKeys::Add(const ConfigNode& at, const std::string& key) { return Add(at, key, key); }

Status UniqueKeys::Add(const ConfigNode& at, const std::string& key, std::string_view shown) {
  if (!seen_.insert(key).second) return at.Error("duplicate " + what_ + " \"" + std::string(shown) + "\"");
  return Status::Ok();
}

}  // namespace mailstack
