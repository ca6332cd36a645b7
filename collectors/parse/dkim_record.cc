#include "collectors/parse/dkim_record.h"

#include "collectors/parse/text.h"

#include <set>
#include <utility>
#include <vector>

namespace mailstack::dkim {

namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// FWS / WSP. DNS TXT data may carry CR LF from a folded zone file line; accept them as FWS.
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
// RFC 6376 3.2 VALCHAR: %x21-3A / %x3C-7E (visible, not ';').
bool IsValChar(char c) { return c >= 0x21 && c <= 0x7e && c != ';'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Printable(std::string_view s) { return text::Printable(s, 80); }

Status Error(std::string_view problem) { return Status::InvalidArgument("DKIM: " + std::string(problem)); }
Status Error(std::string_view problem, std::string_view quoted) {
  return Status::InvalidArgument("DKIM: " + std::string(problem) + " \"" + Printable(quoted) + "\"");
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (IsDigit(c)) return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

struct Tag {
  std::string_view name, value;
};

// RFC 6376 3.2 tag-list = tag-spec *( ";" tag-spec ) [ ";" ]
// tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]; tag-name = ALPHA *( ALPHA / DIGIT / "_" )
Status ParseTagList(std::string_view txt, std::vector<Tag>* tags) {
  std::set<std::string_view> seen;
  size_t pos = 0;
  while (true) {
    size_t semi = txt.find(';', pos);
    bool last = semi == std::string_view::npos;
    std::string_view spec = Trim(txt.substr(pos, last ? std::string_view::npos : semi - pos));
    if (spec.empty()) {
      // Only the optional trailing ";" (or an empty record) leaves an empty tag-spec.
      if (last) return Status::Ok();
      return Error("empty tag-spec at offset " + std::to_string(pos));
    }
    size_t eq = spec.find('=');
    if (eq == std::string_view::npos) return Error("tag without '=':", spec);
    std::string_view name = Trim(spec.substr(0, eq));
    std::string_view value = Trim(spec.substr(eq + 1));
    bool name_ok = !name.empty() && IsAlpha(name[0]);
    for (char c : name) name_ok = name_ok && (IsAlpha(c) || IsDigit(c) || c == '_');
    if (!name_ok) return Error("bad tag name", name);
    for (char c : value) {
      if (!IsValChar(c) && !IsSpace(c)) return Error("bad character in the value of tag", name);
    }
    if (!seen.insert(name).second) return Error("duplicate tag", name);
    tags->push_back({name, value});
    if (last) return Status::Ok();
    pos = semi + 1;
  }
}

}  // namespace

Result<std::string> Base64Decode(std::string_view b64) {
  if (b64.size() % 4 != 0) {
    return Status::InvalidArgument("base64: length " + std::to_string(b64.size()) + " is not a multiple of 4");
  }
  std::string out;
  out.reserve(b64.size() / 4 * 3);
  for (size_t i = 0; i < b64.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = b64[i + j];
      if (c == '=') {
        // Padding only in the last group: "xx==" or "xxx=".
        if (i + 4 != b64.size() || j < 2 || (j == 2 && b64[i + 3] != '=')) {
          return Status::InvalidArgument("base64: misplaced padding at offset " + std::to_string(i + j));
        }
        v[j] = 0;
        ++pad;
        continue;
      }
      v[j] = Base64Value(c);
      if (v[j] < 0) return Status::InvalidArgument("base64: bad character at offset " + std::to_string(i + j));
    }
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

Result<KeyRecord> Parse(std::string_view txt) {
  std::vector<Tag> tags;
  Status s = ParseTagList(txt, &tags);
  if (!s.ok()) return s;
  KeyRecord rec;
  rec.key_type = "rsa";
  bool have_p = false;
  for (size_t i = 0; i < tags.size(); ++i) {
    const Tag& t = tags[i];
    if (t.name == "v") {
      // RFC 6376 3.6.1: if present, v= MUST be the first tag and MUST be "DKIM1".
      if (i != 0) return Error("v= is not the first tag");
      if (t.value != "DKIM1") return Error("unsupported version", t.value);
      rec.version = std::string(t.value);
    } else if (t.name == "k") {
      // Tag values are case-sensitive (RFC 6376 3.2); the registered key types are "rsa" and "ed25519".
      if (t.value != "rsa" && t.value != "ed25519") return Error("unsupported key type", t.value);
      rec.key_type = std::string(t.value);
    } else if (t.name == "p") {
      have_p = true;
      for (char c : t.value) {
        if (!IsSpace(c)) rec.public_key_b64 += c;
      }
    } else if (t.name == "h") {
      rec.hash_algs = std::string(t.value);
    } else if (t.name == "t") {
      rec.flags = std::string(t.value);
    } else if (t.name == "s") {
      rec.services = std::string(t.value);
    }
    // n= (notes) and unknown tags are ignored (RFC 6376 3.6.1, 3.2).
  }
  if (!have_p) return Error("p= missing");
  if (!rec.public_key_b64.empty()) {
    auto decoded = Base64Decode(rec.public_key_b64);
    if (!decoded.ok()) return Error("p= is not valid " + decoded.status().message());
  }
  return rec;
}

}  // namespace mailstack::dkim
