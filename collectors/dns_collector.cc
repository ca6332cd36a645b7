#include "collectors/dns_collector.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <set>

#include "collectors/core/logging.h"
#include "collectors/net/dns_client.h"
#include "collectors/net/resolve.h"
#include "collectors/net/socket.h"
#include "collectors/parse/dkim_record.h"
#include "collectors/parse/dmarc.h"
#include "collectors/parse/spf.h"
#include "collectors/tls_metrics.h"

namespace mailstack {
namespace {

using net::DnsAnswer;
using net::DnsClient;
using net::DnsType;

constexpr GaugeFamily<2> kPresent{"mailstack_dns_record_present",
                                  "1 if the record exists (mx, a, aaaa, ptr, spf, dmarc, mta_sts, tls_rpt); absent "
                                  "when its lookup failed.",
                                  "domain", "record"};
constexpr GaugeFamily<2> kValid{"mailstack_dns_record_valid",
                                "1 if the record is what it should be: MX names mail_host, A/AAAA equal ips, PTR "
                                "forward-confirmed, exactly one well-formed SPF/DMARC/MTA-STS/TLS-RPT record (SPF "
                                "within 10 DNS lookups and 2 void lookups).",
                                "domain", "record"};
constexpr GaugeFamily<1> kLookupFailures{"mailstack_dns_lookup_failures",
                                         "Lookups for the domain's checks that got no answer in the last run (timeout, "
                                         "SERVFAIL, refused); NXDOMAIN and empty answers are answers.",
                                         "domain"};
constexpr GaugeFamily<1> kSpfLookups{"mailstack_spf_dns_lookups",
                                     "DNS-querying SPF terms (include, a, mx, ptr, exists, redirect) across includes "
                                     "and redirects for an IP no mechanism matches (RFC 7208 4.6.4; limit 10).",
                                     "domain"};
constexpr GaugeFamily<1> kSpfVoids{"mailstack_spf_void_lookups",
                                   "SPF lookups that returned NXDOMAIN or no records, same evaluation (limit 2).",
                                   "domain"};
constexpr GaugeFamily<2> kSpfAuthorizes{"mailstack_spf_authorizes_ip",
                                        "1 if SPF check_host() for the IP and the domain gives pass.", "domain", "ip"};
constexpr GaugeFamily<2> kDkimPresent{"mailstack_dkim_record_present", "1 if the selector's DKIM key record exists.",
                                      "domain", "selector"};
constexpr GaugeFamily<2> kDkimValid{"mailstack_dkim_record_valid",
                                    "1 if the DKIM key record is well-formed with a usable rsa or ed25519 key.",
                                    "domain", "selector"};
constexpr GaugeFamily<2> kDkimBytes{"mailstack_dkim_key_size_bytes",
                                    "Size of the published DKIM key in bytes (RSA: the modulus, 256 for a 2048-bit "
                                    "key; ed25519: 32).",
                                    "domain", "selector"};
constexpr GaugeFamily<2> kDkimMatches{"mailstack_dkim_key_matches",
                                      "1 if the published DKIM key is the public half of the configured key_file.",
                                      "domain", "selector"};
constexpr GaugeFamily<2> kDkimKeyFileError{"mailstack_dkim_key_file_error",
                                           "1 if the configured DKIM key_file cannot be read as a private key.",
                                           "domain", "selector"};
constexpr StateSetFamily<2> kDmarcPolicy{
    "mailstack_dmarc_policy", "The DMARC policy (p=) as a state set: none, quarantine, reject.", "domain", "policy"};
constexpr GaugeFamily<2> kReverseDns{"mailstack_reverse_dns_matches",
                                     "1 if the PTR of the IP names mail_host and mail_host resolves back to the IP.",
                                     "domain", "ip"};
constexpr GaugeFamily<2> kDnsblListed{"mailstack_dnsbl_listed",
                                      "1 if the blocklist zone lists the IP (an answer in 127.0.0.0/8 outside "
                                      "127.255.255.0/24, RFC 5782).",
                                      "ip", "blocklist"};
constexpr GaugeFamily<2> kDnsblError{"mailstack_dnsbl_query_error",
                                     "1 if the blocklist query failed or answered an error code (127.255.255.x: e.g. "
                                     "Spamhaus refusing a public resolver); the listing is then unknown.",
                                     "ip", "blocklist"};

const std::vector<std::string_view> kPolicies = {"none", "quarantine", "reject"};
constexpr int kMaxSpfLookups = 10;
constexpr int kMaxSpfVoids = 2;

using net::CanonicalName;

std::string IpString(const std::vector<uint8_t>& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.size() == 4 ? AF_INET : AF_INET6, ip.data(), buf, sizeof buf);
  return buf;
}

std::optional<std::vector<uint8_t>> ParseIp(const std::string& s) {
  unsigned char b[16];
  if (inet_pton(AF_INET, s.c_str(), b) == 1) return std::vector<uint8_t>(b, b + 4);
  if (inet_pton(AF_INET6, s.c_str(), b) == 1) return std::vector<uint8_t>(b, b + 16);
  return std::nullopt;
}

// One yes/no check whose lookup may have failed.
struct Check {
  bool known = false;
  bool present = false;
  bool valid = false;
  void Set(bool p, bool v) {
    known = true;
    present = p;
    valid = v;
  }
};

struct DkimState {
  Check record;
  int bits = -1;
  int matches = -1;  // -1: not checked
  bool file_error = false;
};

struct DomainState {
  Check mx, a, aaaa, ptr, spf, dmarc, mta_sts, tls_rpt;
  std::string dmarc_policy;
  std::set<std::string> failed;  // failed lookups ("TYPE name")
  std::vector<int> rdns;         // per ip: -1 unknown, 0, 1
  std::vector<bool> has_ptr;     // per ip: a PTR record exists
  int spf_lookups = -1, spf_voids = -1;
  std::vector<int> spf_pass;  // per ip: -1 unknown, 0, 1
  std::vector<DkimState> dkim;
  std::set<std::string> problems;  // sorted: answers arrive in any order
};

// Queries on behalf of one domain: failed lookups are counted for it.
struct Resolver {
  DnsClient& dns;
  DomainState& st;
  void Query(const std::string& name, DnsType type, std::function<void(const DnsAnswer&)> cb) {
    DomainState* s = &st;
    std::string key = std::string(net::DnsTypeName(type)) + " " + CanonicalName(name);
    dns.Query(name, type, [s, key, cb = std::move(cb)](const DnsAnswer& a) {
      if (a.failed()) s->failed.insert(key + ": " + a.error);
      cb(a);
    });
  }
};

// ---- SPF check_host() (RFC 7208 section 4), asynchronous.
enum class SpfResult { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };

struct SpfEval {
  Resolver r;
  std::vector<uint8_t> ip;  // empty: count mode (only "all" matches: every term of the tree is visited)
  std::string sender_domain;
  std::string helo;
  int lookups = 0;
  int voids = 0;
  std::string error;
};
using SpfDone = std::function<void(SpfResult)>;
using SpfEvalPtr = std::shared_ptr<SpfEval>;
using RecordPtr = std::shared_ptr<const spf::Record>;

SpfResult FromQualifier(spf::Qualifier q) {
  switch (q) {
    case spf::Qualifier::kPass: return SpfResult::kPass;
    case spf::Qualifier::kFail: return SpfResult::kFail;
    case spf::Qualifier::kSoftFail: return SpfResult::kSoftFail;
    case spf::Qualifier::kNeutral: return SpfResult::kNeutral;
  }
  return SpfResult::kNeutral;
}

bool PermError(const SpfEvalPtr& ev, const std::string& why) {
  if (ev->error.empty()) ev->error = why;
  return false;
}

bool CountLookup(const SpfEvalPtr& ev, const spf::Term& t) {
  if (++ev->lookups > kMaxSpfLookups) {
    return PermError(ev, "more than " + std::to_string(kMaxSpfLookups) + " DNS lookups (at \"" + t.text + "\")");
  }
  return true;
}

bool CountVoid(const SpfEvalPtr& ev, const spf::Term& t) {
  if (++ev->voids > kMaxSpfVoids) {
    return PermError(ev, "more than " + std::to_string(kMaxSpfVoids) + " void lookups (at \"" + t.text + "\")");
  }
  return true;
}

std::optional<std::string> Target(const SpfEvalPtr& ev, const spf::Term& t, const std::string& domain) {
  if (t.domain_spec.empty()) return domain;
  if (!t.has_macros) return CanonicalName(t.domain_spec);
  spf::MacroContext mc;
  mc.sender = "postmaster@" + ev->sender_domain;
  mc.domain = domain;
  mc.ip = ev->ip.empty() ? std::vector<uint8_t>{192, 0, 2, 0} : ev->ip;
  mc.helo = ev->helo;
  auto out = spf::ExpandMacros(t.domain_spec, mc);
  if (!out.ok()) {
    PermError(ev, out.status().message());
    return std::nullopt;
  }
  std::string name = CanonicalName(*out);
  if (!net::IsHostName(name)) {
    PermError(ev, "\"" + t.text + "\" expands to \"" + name + "\", not a domain name");
    return std::nullopt;
  }
  return name;
}

int PrefixFor(const spf::Term& t, size_t family_bytes) { return family_bytes == 4 ? t.ip4_cidr : t.ip6_cidr; }

bool AnyInNetwork(const std::vector<uint8_t>& ip, const std::vector<std::vector<uint8_t>>& addrs, int prefix) {
  for (const auto& a : addrs) {
    if (a.size() == ip.size() && spf::InNetwork(ip, a, prefix)) return true;
  }
  return false;
}

void CheckHost(const SpfEvalPtr& ev, const std::string& domain, SpfDone done, int depth);

void EvalFrom(const SpfEvalPtr& ev, const RecordPtr& rec, size_t i, const std::string& domain, const SpfDone& done,
              int depth) {
  for (; i < rec->terms.size(); ++i) {
    const spf::Term& t = rec->terms[i];
    if (t.is_modifier) continue;
    const bool counting = ev->ip.empty();
    auto next = [ev, rec, i, domain, done, depth] { EvalFrom(ev, rec, i + 1, domain, done, depth); };
    const SpfResult on_match = FromQualifier(t.qualifier);
    switch (t.mechanism) {
      case spf::Mechanism::kAll: done(on_match); return;
      case spf::Mechanism::kIp4:
      case spf::Mechanism::kIp6:
        if (!counting && t.network.size() == ev->ip.size() &&
            spf::InNetwork(ev->ip, t.network, PrefixFor(t, ev->ip.size()))) {
          done(on_match);
          return;
        }
        continue;
      case spf::Mechanism::kInclude: {
        if (!CountLookup(ev, t)) return done(SpfResult::kPermError);
        auto target = Target(ev, t, domain);
        if (!target) return done(SpfResult::kPermError);
        CheckHost(
            ev, *target,
            [ev, on_match, next, done, text = t.text](SpfResult r) {
              switch (r) {
                case SpfResult::kPass: done(on_match); return;
                case SpfResult::kFail:
                case SpfResult::kSoftFail:
                case SpfResult::kNeutral: next(); return;
                case SpfResult::kTempError: done(SpfResult::kTempError); return;
                case SpfResult::kNone:
                  PermError(ev, "\"" + text + "\" names a domain without an SPF record");
                  [[fallthrough]];
                case SpfResult::kPermError: done(SpfResult::kPermError); return;
              }
            },
            depth + 1);
        return;
      }
      case spf::Mechanism::kA: {
        if (!CountLookup(ev, t)) return done(SpfResult::kPermError);
        auto target = Target(ev, t, domain);
        if (!target) return done(SpfResult::kPermError);
        const DnsType type = ev->ip.size() == 16 ? DnsType::kAaaa : DnsType::kA;
        ev->r.Query(*target, type, [ev, t, on_match, next, done](const DnsAnswer& a) {
          if (a.failed()) return done(SpfResult::kTempError);
          if (a.empty() && !CountVoid(ev, t)) return done(SpfResult::kPermError);
          if (!ev->ip.empty() && AnyInNetwork(ev->ip, a.addrs, PrefixFor(t, ev->ip.size()))) return done(on_match);
          next();
        });
        return;
      }
      case spf::Mechanism::kMx: {
        if (!CountLookup(ev, t)) return done(SpfResult::kPermError);
        auto target = Target(ev, t, domain);
        if (!target) return done(SpfResult::kPermError);
        ev->r.Query(*target, DnsType::kMx, [ev, t, on_match, next, done](const DnsAnswer& a) {
          if (a.failed()) return done(SpfResult::kTempError);
          if (a.empty() && !CountVoid(ev, t)) return done(SpfResult::kPermError);
          if (a.mx.size() > 10) {
            PermError(ev, "\"" + t.text + "\": more than 10 MX hosts");
            return done(SpfResult::kPermError);
          }
          std::vector<std::string> hosts;  // a null MX ("0 .", RFC 7505) names no host
          for (const auto& mx : a.mx) {
            if (!mx.second.empty()) hosts.push_back(mx.second);
          }
          if (ev->ip.empty() || hosts.empty()) return next();
          // Every MX host's addresses at once; the last answer decides.
          struct Join {
            size_t left;
            bool matched = false, failed = false;
          };
          auto join = std::make_shared<Join>(Join{hosts.size()});
          const DnsType type = ev->ip.size() == 16 ? DnsType::kAaaa : DnsType::kA;
          for (const auto& host : hosts) {
            ev->r.Query(host, type, [ev, t, join, on_match, next, done](const DnsAnswer& h) {
              if (h.failed()) join->failed = true;
              if (AnyInNetwork(ev->ip, h.addrs, PrefixFor(t, ev->ip.size()))) join->matched = true;
              if (--join->left > 0) return;
              if (join->matched) return done(on_match);
              if (join->failed) return done(SpfResult::kTempError);
              next();
            });
          }
        });
        return;
      }
      case spf::Mechanism::kPtr: {
        if (!CountLookup(ev, t)) return done(SpfResult::kPermError);
        if (counting) continue;
        auto target = Target(ev, t, domain);
        if (!target) return done(SpfResult::kPermError);
        ev->r.Query(DnsClient::ReverseName(ev->ip), DnsType::kPtr,
                    [ev, target = *target, on_match, next, done](const DnsAnswer& a) {
                      // RFC 7208 5.5: a DNS error on the PTR lookup means no match.
                      std::vector<std::string> names;
                      for (const auto& n : a.ptr) {
                        if (!n.empty() && names.size() < 10) names.push_back(n);
                      }
                      if (names.empty()) return next();
                      struct Join {
                        size_t left;
                        bool matched = false;
                      };
                      auto join = std::make_shared<Join>(Join{names.size()});
                      const DnsType type = ev->ip.size() == 16 ? DnsType::kAaaa : DnsType::kA;
                      for (const auto& name : names) {
                        ev->r.Query(name, type, [ev, name, target, join, on_match, next, done](const DnsAnswer& h) {
                          const bool validated = AnyInNetwork(ev->ip, h.addrs, static_cast<int>(ev->ip.size()) * 8);
                          const bool in_target = name == target || (name.size() > target.size() &&
                                                                    name.compare(name.size() - target.size(),
                                                                                 target.size(), target) == 0 &&
                                                                    name[name.size() - target.size() - 1] == '.');
                          if (validated && in_target) join->matched = true;
                          if (--join->left > 0) return;
                          if (join->matched) return done(on_match);
                          next();
                        });
                      }
                    });
        return;
      }
      case spf::Mechanism::kExists: {
        if (!CountLookup(ev, t)) return done(SpfResult::kPermError);
        if (counting && t.has_macros) continue;  // the name depends on the IP
        auto target = Target(ev, t, domain);
        if (!target) return done(SpfResult::kPermError);
        ev->r.Query(*target, DnsType::kA, [ev, t, on_match, next, done, counting](const DnsAnswer& a) {
          if (a.failed()) return done(SpfResult::kTempError);
          if (a.empty() && !CountVoid(ev, t)) return done(SpfResult::kPermError);
          if (!counting && !a.addrs.empty()) return done(on_match);
          next();
        });
        return;
      }
    }
  }
  // No mechanism matched. redirect= applies unless the record has "all" (RFC 7208 6.1).
  const spf::Term* redirect = rec->redirect();
  if (redirect != nullptr && !rec->has_all()) {
    if (!CountLookup(ev, *redirect)) return done(SpfResult::kPermError);
    auto target = Target(ev, *redirect, domain);
    if (!target) return done(SpfResult::kPermError);
    CheckHost(
        ev, *target,
        [ev, done, text = redirect->text](SpfResult r) {
          if (r == SpfResult::kNone) {
            PermError(ev, "\"" + text + "\" names a domain without an SPF record");
            return done(SpfResult::kPermError);
          }
          done(r);
        },
        depth + 1);
    return;
  }
  done(SpfResult::kNeutral);
}

void CheckHost(const SpfEvalPtr& ev, const std::string& domain, SpfDone done, int depth) {
  if (depth > 2 * kMaxSpfLookups) {  // unreachable with the lookup limit; a guard all the same
    PermError(ev, "SPF: include/redirect nesting too deep");
    return done(SpfResult::kPermError);
  }
  ev->r.Query(domain, DnsType::kTxt, [ev, domain, done = std::move(done), depth](const DnsAnswer& a) {
    if (a.failed()) {
      if (ev->error.empty()) ev->error = "TXT " + domain + ": " + a.error;
      return done(SpfResult::kTempError);
    }
    std::vector<std::string> records;
    for (const auto& txt : a.txt) {
      if (spf::IsSpfRecord(txt)) records.push_back(txt);
    }
    if (records.empty()) return done(SpfResult::kNone);
    if (records.size() > 1) {
      PermError(ev, std::to_string(records.size()) + " SPF records for " + domain + " (must be one)");
      return done(SpfResult::kPermError);
    }
    auto parsed = spf::Parse(records[0]);
    if (!parsed.ok()) {
      PermError(ev, domain + ": " + parsed.status().message());
      return done(SpfResult::kPermError);
    }
    auto rec = std::make_shared<const spf::Record>(std::move(parsed).value());
    EvalFrom(ev, rec, 0, domain, done, depth);
  });
}

// ---- DKIM keys

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The key published in p= (SubjectPublicKeyInfo or PKCS#1 RSAPublicKey for
// rsa, the raw 32 bytes for ed25519).
PkeyPtr DecodeDnsKey(const dkim::KeyRecord& rec) {
  auto der = dkim::Base64Decode(rec.public_key_b64);
  if (!der.ok() || der->empty()) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  if (rec.key_type == "ed25519") {
    if (der->size() != 32) return nullptr;
    return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, 32));
  }
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size()));
  if (k == nullptr) {
    p = reinterpret_cast<const unsigned char*>(der->data());
    k = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der->size()));
  }
  ERR_clear_error();
  if (k != nullptr && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
    EVP_PKEY_free(k);
    return nullptr;
  }
  return PkeyPtr(k);
}

std::string PublicDer(EVP_PKEY* k) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(k, &der);
  std::string out = len > 0 ? std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)) : "";
  OPENSSL_free(der);
  return out;
}

}  // namespace

Result<std::string> DkimPublicKeyFromFile(const std::string& path) {
  auto in = OpenRegularFile(path);
  if (!in.ok()) return in.status();
  std::string text;
  char buf[4096];
  int n;
  while ((n = BIO_read(in->get(), buf, sizeof buf)) > 0 && text.size() < 65536) {
    text.append(buf, static_cast<size_t>(n));
  }
  ERR_clear_error();
  if (text.find("-----BEGIN") != std::string::npos) {
    BIO* mem = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(mem, nullptr, NoPassphrase, nullptr);  // encrypted: no prompt, an error
    if (k == nullptr) {
      BIO_free(mem);
      mem = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
      k = PEM_read_bio_PUBKEY(mem, nullptr, NoPassphrase, nullptr);
    }
    BIO_free(mem);
    ERR_clear_error();
    if (k == nullptr) return Status::InvalidArgument(path + ": no readable PEM private or public key");
    PkeyPtr key(k);
    return PublicDer(key.get());
  }
  // opendkim-genkey's <selector>.txt: the record in zone-file syntax; the
  // key is what the quoted strings say once joined.
  std::string record;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ';') {  // a comment outside quotes runs to the end of the line
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (text[i] != '"') continue;
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      record += text[i];
    }
  }
  auto rec = dkim::Parse(record);
  if (!rec.ok()) return Status::InvalidArgument(path + ": not a PEM key nor a DKIM record: " + rec.status().message());
  PkeyPtr key = DecodeDnsKey(*rec);
  if (!key) return Status::InvalidArgument(path + ": the record's p= is not a usable key");
  return PublicDer(key.get());
}

namespace {}  // namespace

Result<DnsCollector::Options> DnsCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  if (auto s = section.ExpectMap({"resolver", "domains", "dnsbl"}); !s.ok()) return s;
  auto resolver = section["resolver"].AsString("");
  if (!resolver.ok()) return resolver.status();
  if (!resolver->empty()) {
    if (!net::IsDnsServerAddress(*resolver)) {
      return section["resolver"].Error("must be IP:PORT of a DNS server (got \"" + *resolver + "\")");
    }
    o.resolver = *resolver;
  }
  auto domains = section["domains"];
  if (auto s = domains.ExpectList(); !s.ok()) return s;
  for (const auto& item : domains.Items()) {
    if (auto s = item.ExpectMap({"domain", "mail_host", "ips", "dkim"}); !s.ok()) return s;
    if (!item.is_map()) return item.Error("must be a map with domain, mail_host, ips, dkim");
    Domain d;
    auto name = item["domain"].AsString();
    if (!name.ok()) return name.status();
    if (!net::IsHostName(*name)) return item["domain"].Error("must be a domain name (got \"" + *name + "\")");
    d.domain = CanonicalName(*name);
    for (const auto& prev : o.domains) {
      if (prev.domain == d.domain) return item["domain"].Error("duplicate domain \"" + d.domain + "\"");
    }
    auto host = item["mail_host"].AsString("");
    if (!host.ok()) return host.status();
    if (!host->empty() && !net::IsHostName(*host)) {
      return item["mail_host"].Error("must be a host name (got \"" + *host + "\")");
    }
    d.mail_host = CanonicalName(*host);
    if (auto n = item["ips"]; n.defined() && !n.null()) {
      auto ips = n.AsStringList();
      if (!ips.ok()) return ips.status();
      auto nodes = n.Items();
      for (size_t i = 0; i < ips->size(); ++i) {
        auto ip = ParseIp((*ips)[i]);
        if (!ip) return nodes[i].Error("must be an IPv4 or IPv6 address (got \"" + (*ips)[i] + "\")");
        d.ips.push_back(IpString(*ip));  // canonical form for labels
        d.ip_bytes.push_back(*ip);
      }
    }
    if (auto n = item["dkim"]; n.defined() && !n.null()) {
      if (auto s = n.ExpectList(); !s.ok()) return s;
      for (const auto& k : n.Items()) {
        if (auto s = k.ExpectMap({"selector", "key_file"}); !s.ok()) return s;
        if (!k.is_map()) return k.Error("must be a map with selector and key_file");
        auto sel = k["selector"].AsString();
        if (!sel.ok()) return sel.status();
        if (!net::IsHostName(*sel)) return k["selector"].Error("must be a DNS label (got \"" + *sel + "\")");
        auto file = k["key_file"].AsAbsolutePath("");
        if (!file.ok()) return file.status();
        for (const auto& prev : d.dkim) {
          if (prev.selector == CanonicalName(*sel)) return k["selector"].Error("duplicate selector \"" + *sel + "\"");
        }
        d.dkim.push_back(Dkim{CanonicalName(*sel), *file});
      }
    }
    o.domains.push_back(std::move(d));
  }
  if (o.domains.empty()) return domains.Error("must list at least one domain");
  if (auto bl = section["dnsbl"]; bl.defined() && !bl.null()) {
    if (auto s = bl.ExpectMap({"zones"}); !s.ok()) return s;
    auto zones = bl["zones"].AsStringList();
    if (!zones.ok()) return zones.status();
    auto nodes = bl["zones"].Items();
    for (size_t i = 0; i < zones->size(); ++i) {
      if (!net::IsHostName((*zones)[i])) {
        return nodes[i].Error("must be a DNS zone (got \"" + (*zones)[i] + "\")");
      }
      o.dnsbl_zones.push_back(CanonicalName((*zones)[i]));
    }
  }
  return o;
}

std::vector<MetricDesc> DnsCollector::Families() {
  return {kPresent,          kValid,       kLookupFailures, kSpfLookups,  kSpfVoids,
          kSpfAuthorizes,    kDkimPresent, kDkimValid,      kDkimBytes,   kDkimMatches,
          kDkimKeyFileError, kDmarcPolicy, kReverseDns,     kDnsblListed, kDnsblError};
}

void DnsCollector::LogChange(const std::string& key, const std::string& message) {
  switch (problems_.Update(key, message)) {
    case ProblemMemo::Change::kNew: MS_LOG(kWarn, "DNS check problem", {{"domain", key}, {"err", message}}); break;
    case ProblemMemo::Change::kCleared: MS_LOG(kInfo, "DNS checks recovered", {{"domain", key}}); break;
    case ProblemMemo::Change::kSame: break;
  }
}

Status DnsCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  // Lookups end a little before the run's deadline, so what was answered is published.
  const Deadline deadline = ctx.WorkDeadline();
  auto client = DnsClient::Create(options_.resolver, deadline);
  if (!client.ok()) return client.status();
  DnsClient& dns = **client;

  std::vector<DomainState> states(options_.domains.size());
  for (size_t di = 0; di < options_.domains.size(); ++di) {
    const Domain& d = options_.domains[di];
    DomainState& st = states[di];
    Resolver r{dns, st};
    st.rdns.assign(d.ips.size(), -1);
    st.has_ptr.assign(d.ips.size(), false);
    st.spf_pass.assign(d.ips.size(), -1);
    st.dkim.resize(d.dkim.size());
    DomainState* s = &st;
    const Domain* dp = &d;

    // MX names mail_host.
    r.Query(d.domain, DnsType::kMx, [s, dp](const DnsAnswer& a) {
      if (a.failed()) return;
      bool names = dp->mail_host.empty() && !a.mx.empty();
      for (const auto& [pref, host] : a.mx) names = names || host == dp->mail_host;
      s->mx.Set(!a.mx.empty(), names);
      if (a.mx.empty())
        s->problems.insert("no MX record");
      else if (!names)
        s->problems.insert("no MX names " + dp->mail_host);
    });

    // A / AAAA of mail_host equal our ips; PTR of each ip forward-confirmed.
    if (!d.mail_host.empty()) {
      for (DnsType type : {DnsType::kA, DnsType::kAaaa}) {
        r.Query(d.mail_host, type, [s, dp, type](const DnsAnswer& a) {
          if (a.failed()) return;
          const size_t len = type == DnsType::kA ? 4 : 16;
          std::set<std::vector<uint8_t>> want, got(a.addrs.begin(), a.addrs.end());
          for (const auto& ip : dp->ip_bytes) {
            if (ip.size() == len) want.insert(ip);
          }
          (type == DnsType::kA ? s->a : s->aaaa).Set(!got.empty(), got == want);
          if (got != want) {
            s->problems.insert(std::string(net::DnsTypeName(type)) + " of " + dp->mail_host +
                               " differs from the configured ips");
          }
        });
      }
      for (size_t i = 0; i < d.ips.size(); ++i) {
        const auto& ip = d.ip_bytes[i];
        r.Query(DnsClient::ReverseName(ip), DnsType::kPtr, [s, dp, i, ip, r](const DnsAnswer& a) mutable {
          if (a.failed()) return;
          s->has_ptr[i] = !a.ptr.empty();
          const bool names = std::find(a.ptr.begin(), a.ptr.end(), dp->mail_host) != a.ptr.end();
          if (!names) {
            s->rdns[i] = 0;
            s->problems.insert("PTR of " + dp->ips[i] + " is " + (a.ptr.empty() ? "missing" : a.ptr[0]) + ", not " +
                               dp->mail_host);
            return;
          }
          r.Query(dp->mail_host, ip.size() == 4 ? DnsType::kA : DnsType::kAaaa, [s, dp, i, ip](const DnsAnswer& f) {
            if (f.failed()) return;
            const bool back = std::find(f.addrs.begin(), f.addrs.end(), ip) != f.addrs.end();
            s->rdns[i] = back ? 1 : 0;
            if (!back) s->problems.insert(dp->mail_host + " does not resolve back to " + dp->ips[i]);
          });
        });
      }
    }

    // SPF: the record, the lookup count over the whole tree, and check_host() per ip.
    r.Query(d.domain, DnsType::kTxt, [s](const DnsAnswer& a) {
      if (a.failed()) return;
      int n = 0;
      for (const auto& txt : a.txt) n += spf::IsSpfRecord(txt) ? 1 : 0;
      s->spf.Set(n > 0, false);  // valid is decided by the evaluation below
      if (n == 0) s->problems.insert("no SPF record");
    });
    auto count = std::make_shared<SpfEval>(SpfEval{r, {}, d.domain, d.mail_host, 0, 0, ""});
    CheckHost(
        count, d.domain,
        [s, count](SpfResult res) {
          if (res == SpfResult::kTempError) return;
          s->spf_lookups = count->lookups;
          s->spf_voids = count->voids;
          const bool ok = res != SpfResult::kPermError && res != SpfResult::kNone;
          if (s->spf.known) s->spf.valid = ok && s->spf.present;
          if (res == SpfResult::kPermError) s->problems.insert("SPF: " + count->error);
        },
        0);
    for (size_t i = 0; i < d.ips.size(); ++i) {
      auto ev = std::make_shared<SpfEval>(SpfEval{r, d.ip_bytes[i], d.domain, d.mail_host, 0, 0, ""});
      CheckHost(
          ev, d.domain,
          [s, i, dp](SpfResult res) {
            if (res == SpfResult::kTempError) return;
            s->spf_pass[i] = res == SpfResult::kPass ? 1 : 0;
            if (res != SpfResult::kPass) s->problems.insert("SPF does not authorize " + dp->ips[i]);
          },
          0);
    }

    // DMARC, MTA-STS, TLS-RPT.
    r.Query("_dmarc." + d.domain, DnsType::kTxt, [s](const DnsAnswer& a) {
      if (a.failed()) return;
      std::vector<std::string> recs;
      for (const auto& txt : a.txt) {
        if (dmarc::IsDmarcRecord(txt)) recs.push_back(txt);
      }
      if (recs.size() != 1) {
        s->dmarc.Set(!recs.empty(), false);
        s->problems.insert(recs.empty() ? "no DMARC record" : "more than one DMARC record");
        return;
      }
      auto parsed = dmarc::Parse(recs[0]);
      s->dmarc.Set(true, parsed.ok());
      if (parsed.ok()) {
        s->dmarc_policy = parsed->policy;
      } else {
        s->problems.insert(parsed.status().message());
      }
    });
    r.Query("_mta-sts." + d.domain, DnsType::kTxt, [s](const DnsAnswer& a) {
      if (a.failed()) return;
      std::vector<std::string> recs;
      for (const auto& txt : a.txt) {
        if (dmarc::IsMtaStsRecord(txt)) recs.push_back(txt);
      }
      s->mta_sts.Set(!recs.empty(), recs.size() == 1 && dmarc::ParseMtaSts(recs[0]).ok());
    });
    r.Query("_smtp._tls." + d.domain, DnsType::kTxt, [s](const DnsAnswer& a) {
      if (a.failed()) return;
      std::vector<std::string> recs;
      for (const auto& txt : a.txt) {
        if (dmarc::IsTlsRptRecord(txt)) recs.push_back(txt);
      }
      s->tls_rpt.Set(!recs.empty(), recs.size() == 1 && dmarc::ParseTlsRpt(recs[0]).ok());
    });

    // DKIM selectors.
    for (size_t k = 0; k < d.dkim.size(); ++k) {
      r.Query(d.dkim[k].selector + "._domainkey." + d.domain, DnsType::kTxt, [s, dp, k](const DnsAnswer& a) {
        if (a.failed()) return;
        DkimState& ds = s->dkim[k];
        const std::string where = "DKIM " + dp->dkim[k].selector + "._domainkey." + dp->domain;
        if (a.txt.size() != 1) {
          ds.record.Set(!a.txt.empty(), false);
          s->problems.insert(where + (a.txt.empty() ? ": no record" : ": more than one record"));
          return;
        }
        auto rec = dkim::Parse(a.txt[0]);
        PkeyPtr key = rec.ok() ? DecodeDnsKey(*rec) : nullptr;
        ds.record.Set(true, key != nullptr);
        if (!rec.ok()) {
          s->problems.insert(where + ": " + rec.status().message());
        } else if (key == nullptr) {
          s->problems.insert(where + ": p= is not a usable " + rec->key_type + " key");
        }
        if (key) ds.bits = EVP_PKEY_get_bits(key.get());
        if (!dp->dkim[k].key_file.empty()) {
          auto local = DkimPublicKeyFromFile(dp->dkim[k].key_file);
          if (!local.ok()) {
            ds.file_error = true;
            s->problems.insert(local.status().message());
          } else {
            ds.matches = key && PublicDer(key.get()) == *local ? 1 : 0;
            ERR_clear_error();
            if (ds.matches == 0) s->problems.insert(where + ": the key is not the one in " + dp->dkim[k].key_file);
          }
        }
      });
    }
  }

  // DNSBL: every configured ip once, in every zone.
  struct Listing {
    std::string ip, zone;
    int listed = 0, error = 0;
  };
  std::vector<std::vector<uint8_t>> bl_ips;
  std::vector<std::string> bl_names;
  for (const auto& d : options_.domains) {
    for (size_t i = 0; i < d.ips.size(); ++i) {
      if (std::find(bl_names.begin(), bl_names.end(), d.ips[i]) == bl_names.end()) {
        bl_names.push_back(d.ips[i]);
        bl_ips.push_back(d.ip_bytes[i]);
      }
    }
  }
  std::vector<Listing> listings;
  listings.reserve(bl_ips.size() * options_.dnsbl_zones.size());
  for (size_t i = 0; i < bl_ips.size(); ++i) {
    for (const auto& zone : options_.dnsbl_zones) {
      listings.push_back(Listing{bl_names[i], zone});
      Listing* l = &listings.back();
      dns.Query(DnsClient::ReverseName(bl_ips[i], false) + "." + zone, DnsType::kA, [l](const DnsAnswer& a) {
        if (a.failed()) {
          l->error = 1;
          return;
        }
        for (const auto& addr : a.addrs) {
          if (addr.size() != 4 || addr[0] != 127) {
            l->error = 1;  // not a DNSBL return code (a hijacking resolver?)
          } else if ((addr[1] == 255 && addr[2] == 255) || (addr[1] == 0 && addr[2] == 0 && addr[3] == 1)) {
            l->error = 1;  // 127.255.255.0/24 (refused, over quota); 127.0.0.1 must never be a listing (RFC 5782 2.1)
          } else {
            l->listed = 1;
          }
        }
      });
    }
  }

  (void)dns.Run(deadline, ctx.stop);

  // ---- publish
  for (size_t di = 0; di < options_.domains.size(); ++di) {
    const Domain& d = options_.domains[di];
    DomainState& st = states[di];
    const std::string_view dom = d.domain;
    auto emit = [&](std::string_view record, const Check& c) {
      if (!c.known) return;
      sink.Gauge(kPresent, {dom, record}, c.present ? 1 : 0);
      sink.Gauge(kValid, {dom, record}, c.valid ? 1 : 0);
    };
    if (st.spf.known && st.spf_lookups < 0) st.spf.known = false;  // the evaluation did not finish
    if (!d.ips.empty() && !d.mail_host.empty()) {
      bool all_known = std::all_of(st.rdns.begin(), st.rdns.end(), [](int v) { return v >= 0; });
      if (all_known) {
        st.ptr.Set(std::all_of(st.has_ptr.begin(), st.has_ptr.end(), [](bool v) { return v; }),
                   std::all_of(st.rdns.begin(), st.rdns.end(), [](int v) { return v == 1; }));
      }
    }
    emit("mx", st.mx);
    emit("a", st.a);
    emit("aaaa", st.aaaa);
    emit("ptr", st.ptr);
    emit("spf", st.spf);
    emit("dmarc", st.dmarc);
    emit("mta_sts", st.mta_sts);
    emit("tls_rpt", st.tls_rpt);
    sink.Gauge(kLookupFailures, {dom}, static_cast<double>(st.failed.size()));
    if (st.spf_lookups >= 0) {
      sink.Gauge(kSpfLookups, {dom}, st.spf_lookups);
      sink.Gauge(kSpfVoids, {dom}, st.spf_voids);
    }
    for (size_t i = 0; i < d.ips.size(); ++i) {
      if (st.spf_pass[i] >= 0) sink.Gauge(kSpfAuthorizes, {dom, d.ips[i]}, st.spf_pass[i]);
      if (st.rdns[i] >= 0) sink.Gauge(kReverseDns, {dom, d.ips[i]}, st.rdns[i]);
    }
    if (st.dmarc.known && st.dmarc.valid) {
      sink.StateSet(kDmarcPolicy, {dom}, kPolicies, st.dmarc_policy);
    }
    for (size_t k = 0; k < d.dkim.size(); ++k) {
      const DkimState& ds = st.dkim[k];
      const LabelValues<2> labels{dom, d.dkim[k].selector};
      if (ds.record.known) {
        sink.Gauge(kDkimPresent, labels, ds.record.present ? 1 : 0);
        sink.Gauge(kDkimValid, labels, ds.record.valid ? 1 : 0);
      }
      if (ds.bits >= 0) sink.Gauge(kDkimBytes, labels, ds.bits / 8.0);
      if (ds.matches >= 0) sink.Gauge(kDkimMatches, labels, ds.matches);
      if (!d.dkim[k].key_file.empty() && ds.record.known) sink.Gauge(kDkimKeyFileError, labels, ds.file_error ? 1 : 0);
    }
    std::string problems;
    for (const auto& f : st.failed) problems += (problems.empty() ? "" : "; ") + std::string("lookup failed: ") + f;
    for (const auto& p : st.problems) problems += (problems.empty() ? "" : "; ") + p;
    LogChange(d.domain, problems);
  }
  for (const auto& l : listings) {
    // "blocklist", not "zone": zone is a common target label (region, DNS zone) that would clash.
    sink.Gauge(kDnsblListed, {l.ip, l.zone}, l.listed);
    sink.Gauge(kDnsblError, {l.ip, l.zone}, l.error);
  }
  if (dns.lookups() > 0 && dns.failures() == dns.lookups()) {
    return Status::Unavailable("no DNS lookup was answered (" + dns.first_error() + ")");
  }
  return Status::Ok();
}

void DnsCollector::TakeStateFrom(Collector& previous) {
  auto* prev = dynamic_cast<DnsCollector*>(&previous);
  if (prev == nullptr || prev == this) return;
  problems_.TakeFrom(prev->problems_);
}

}  // namespace mailstack
