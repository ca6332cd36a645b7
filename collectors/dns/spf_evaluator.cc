#include "collectors/dns/spf_evaluator.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "collectors/parse/spf.h"

namespace mailstack::dns {
namespace {

using net::CanonicalName;
using net::DnsAnswer;
using net::DnsType;

// One check_host() run: the counters and the first error are shared by every
// record of the include/redirect tree.
struct Eval {
  DnsQuerier& dns;
  SpfCheck check;
  std::function<void(const SpfVerdict&)> done;
  SpfVerdict verdict;
  // %{p} (RFC 7208 7.3): the PTR names of the IP that resolve back to it,
  // looked up once, when a term first needs them.
  bool p_resolved = false;
  std::vector<std::string> p_names;

  bool counting() const { return check.ip.empty(); }
  DnsType address_type() const { return check.ip.size() == 16 ? DnsType::kAaaa : DnsType::kA; }
};
using EvalPtr = std::shared_ptr<Eval>;
using Done = std::function<void(SpfResult)>;

// One record of the tree being evaluated; its terms are walked in order and
// `done` gets the record's result.
struct Frame {
  EvalPtr ev;
  std::shared_ptr<const spf::Record> rec;
  std::string domain;
  Done done;
  int depth;
  const spf::Term& term(size_t i) const { return rec->terms[i]; }
};
using FramePtr = std::shared_ptr<const Frame>;

// kNext: the term did not match and needed no lookup; kTaken: the frame is
// done or continues from a lookup's answer.
enum class Step { kNext, kTaken };

SpfResult FromQualifier(spf::Qualifier q) {
  switch (q) {
    case spf::Qualifier::kPass: return SpfResult::kPass;
    case spf::Qualifier::kFail: return SpfResult::kFail;
    case spf::Qualifier::kSoftFail: return SpfResult::kSoftFail;
    case spf::Qualifier::kNeutral: return SpfResult::kNeutral;
  }
  return SpfResult::kNeutral;
}

void SetError(Eval& ev, std::string why) {
  if (ev.verdict.error.empty()) ev.verdict.error = std::move(why);
}

bool CountLookup(Eval& ev, const spf::Term& t) {
  if (++ev.verdict.lookups <= kMaxSpfLookups) return true;
  SetError(ev, "more than " + std::to_string(kMaxSpfLookups) + " DNS lookups (at \"" + t.text + "\")");
  return false;
}

bool CountVoid(Eval& ev, const spf::Term& t) {
  if (++ev.verdict.voids <= kMaxSpfVoids) return true;
  SetError(ev, "more than " + std::to_string(kMaxSpfVoids) + " void lookups (at \"" + t.text + "\")");
  return false;
}

// Whether a name from macro expansion can be sent as a DNS query: no empty
// label, labels of at most 63 bytes (ExpandMacros already kept it within 253).
// Any bytes otherwise: RFC 7208 does not check the expansion's syntax, so a
// HELO of "JUMPIN' JUPITER" or "[192.0.2.1]" in %{h} is looked up (and does
// not exist), not a permerror.
bool IsQueryableName(const std::string& name) {
  if (name.empty()) return false;
  size_t label = 0;
  for (char c : name) {
    if (c != '.') {
      if (++label > 63) return false;
      continue;
    }
    if (label == 0) return false;
    label = 0;
  }
  return true;
}

// `name` is `domain` or a name below it.
bool InDomain(const std::string& name, const std::string& domain) {
  if (name == domain) return true;
  return name.size() > domain.size() && name.compare(name.size() - domain.size(), domain.size(), domain) == 0 &&
         name[name.size() - domain.size() - 1] == '.';
}

// The validated domain name for %{p} (RFC 7208 7.3): <domain> itself if it
// is one of the names, else a name below it, else any; "" ("unknown") if none.
std::string ValidatedDomain(const Eval& ev, const std::string& domain) {
  for (const auto& n : ev.p_names) {
    if (n == domain) return n;
  }
  for (const auto& n : ev.p_names) {
    if (InDomain(n, domain)) return n;
  }
  return ev.p_names.empty() ? "" : ev.p_names[0];
}

// Whether a domain-spec uses the p macro (%{p...}, any case).
bool UsesP(const spf::Term& t) {
  const std::string& s = t.domain_spec;
  for (size_t i = 0; t.has_macros && i + 2 < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (s[i + 1] == '{' && (s[i + 2] == 'p' || s[i + 2] == 'P')) return true;
    ++i;  // %%, %_, %- or another macro: skip the character after '%'
  }
  return false;
}

// The domain a term names: its domain-spec (macros expanded), or the
// current domain when it has none. Null on permerror (noted).
std::optional<std::string> Target(Eval& ev, const spf::Term& t, const std::string& domain) {
  if (t.domain_spec.empty()) return domain;
  if (!t.has_macros) return CanonicalName(t.domain_spec);
  spf::MacroContext mc;
  mc.sender = ev.check.sender;
  mc.domain = domain;
  mc.ip = ev.counting() ? std::vector<uint8_t>{192, 0, 2, 0} : ev.check.ip;
  mc.helo = ev.check.helo;
  mc.validated_domain = ValidatedDomain(ev, domain);
  auto out = spf::ExpandMacros(t.domain_spec, mc);
  if (!out.ok()) {
    SetError(ev, out.status().message());
    return std::nullopt;
  }
  std::string name = CanonicalName(*out);
  if (!IsQueryableName(name)) {
    SetError(ev, "\"" + t.text + "\" expands to \"" + name + "\", not a domain name");
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

// Whether one of the addresses matches the IP within the term's cidr.
bool MatchesIp(const Eval& ev, const spf::Term& t, const std::vector<std::vector<uint8_t>>& addrs) {
  return !ev.counting() && AnyInNetwork(ev.check.ip, addrs, PrefixFor(t, ev.check.ip.size()));
}

void CheckHost(const EvalPtr& ev, const std::string& domain, Done done, int depth);
void EvalFrom(const FramePtr& f, size_t i);

void Match(const FramePtr& f, size_t i) { f->done(FromQualifier(f->term(i).qualifier)); }
void Next(const FramePtr& f, size_t i) { EvalFrom(f, i + 1); }

// The start of include, a, mx: counts the lookup and expands the target; on
// permerror the frame is done and the result null.
std::optional<std::string> StartLookup(const FramePtr& f, size_t i) {
  if (!CountLookup(*f->ev, f->term(i))) {
    f->done(SpfResult::kPermError);
    return std::nullopt;
  }
  auto target = Target(*f->ev, f->term(i), f->domain);
  if (!target) f->done(SpfResult::kPermError);
  return target;
}

// Whether an answer to a, mx or exists can be matched: a failed lookup ends
// the frame in temperror, a void lookup over the limit in permerror.
bool Usable(const FramePtr& f, size_t i, const DnsAnswer& a) {
  if (a.failed()) {
    f->done(SpfResult::kTempError);
    return false;
  }
  if (a.empty() && !CountVoid(*f->ev, f->term(i))) {
    f->done(SpfResult::kPermError);
    return false;
  }
  return true;
}

Step EvalIp(const FramePtr& f, size_t i) {
  const spf::Term& t = f->term(i);
  if (!MatchesIp(*f->ev, t, {t.network})) return Step::kNext;
  Match(f, i);
  return Step::kTaken;
}

void OnIncludeResult(const FramePtr& f, size_t i, SpfResult r) {
  switch (r) {
    case SpfResult::kPass: return Match(f, i);
    case SpfResult::kFail:
    case SpfResult::kSoftFail:
    case SpfResult::kNeutral: return Next(f, i);
    case SpfResult::kTempError: return f->done(SpfResult::kTempError);
    case SpfResult::kNone:
      SetError(*f->ev, "\"" + f->term(i).text + "\" names a domain without an SPF record");
      [[fallthrough]];
    case SpfResult::kPermError: return f->done(SpfResult::kPermError);
  }
}

Step EvalInclude(const FramePtr& f, size_t i) {
  auto target = StartLookup(f, i);
  if (target)
    CheckHost(
        f->ev, *target, [f, i](SpfResult r) { OnIncludeResult(f, i, r); }, f->depth + 1);
  return Step::kTaken;
}

Step EvalA(const FramePtr& f, size_t i) {
  auto target = StartLookup(f, i);
  if (!target) return Step::kTaken;
  f->ev->dns.Query(*target, f->ev->address_type(), [f, i](const DnsAnswer& a) {
    if (!Usable(f, i, a)) return;
    if (MatchesIp(*f->ev, f->term(i), a.addrs)) return Match(f, i);
    Next(f, i);
  });
  return Step::kTaken;
}

// The addresses of every MX host at once; the last answer decides.
void MatchMxHosts(const FramePtr& f, size_t i, const std::vector<std::string>& hosts) {
  struct Join {
    size_t left;
    bool matched = false, failed = false;
  };
  auto join = std::make_shared<Join>(Join{hosts.size()});
  for (const auto& host : hosts) {
    f->ev->dns.Query(host, f->ev->address_type(), [f, i, join](const DnsAnswer& h) {
      join->failed = join->failed || h.failed();
      join->matched = join->matched || MatchesIp(*f->ev, f->term(i), h.addrs);
      if (--join->left > 0) return;
      if (join->matched) return Match(f, i);
      if (join->failed) return f->done(SpfResult::kTempError);
      Next(f, i);
    });
  }
}

void OnMx(const FramePtr& f, size_t i, const DnsAnswer& a) {
  if (!Usable(f, i, a)) return;
  if (a.mx.size() > 10) {
    SetError(*f->ev, "\"" + f->term(i).text + "\": more than 10 MX hosts");
    return f->done(SpfResult::kPermError);
  }
  std::vector<std::string> hosts;  // a null MX ("0 .", RFC 7505) names no host
  for (const auto& mx : a.mx) {
    if (!mx.second.empty()) hosts.push_back(mx.second);
  }
  if (f->ev->counting() || hosts.empty()) return Next(f, i);
  MatchMxHosts(f, i, hosts);
}

Step EvalMx(const FramePtr& f, size_t i) {
  auto target = StartLookup(f, i);
  if (target) f->ev->dns.Query(*target, DnsType::kMx, [f, i](const DnsAnswer& a) { OnMx(f, i, a); });
  return Step::kTaken;
}

// RFC 7208 5.5: a PTR name counts if it is in the target domain and
// resolves back to the IP; lookup errors of the names mean no match.
void ValidatePtrNames(const FramePtr& f, size_t i, const std::string& target, const std::vector<std::string>& names) {
  struct Join {
    size_t left;
    bool matched = false;
  };
  auto join = std::make_shared<Join>(Join{names.size()});
  const auto& ip = f->ev->check.ip;
  for (const auto& name : names) {
    f->ev->dns.Query(name, f->ev->address_type(), [f, i, name, target, join, &ip](const DnsAnswer& h) {
      const bool validated = AnyInNetwork(ip, h.addrs, static_cast<int>(ip.size()) * 8);
      join->matched = join->matched || (validated && InDomain(name, target));
      if (--join->left > 0) return;
      if (join->matched) return Match(f, i);
      Next(f, i);
    });
  }
}

void OnPtr(const FramePtr& f, size_t i, const std::string& target, const DnsAnswer& a) {
  // RFC 7208 5.5: a DNS error on the PTR lookup means no match; at most 10 names are looked at.
  std::vector<std::string> names;
  for (const auto& n : a.ptr) {
    if (!n.empty() && names.size() < 10) names.push_back(n);
  }
  if (names.empty()) return Next(f, i);
  ValidatePtrNames(f, i, target, names);
}

Step EvalPtrTerm(const FramePtr& f, size_t i) {
  if (!CountLookup(*f->ev, f->term(i))) {
    f->done(SpfResult::kPermError);
    return Step::kTaken;
  }
  if (f->ev->counting()) return Step::kNext;
  auto target = Target(*f->ev, f->term(i), f->domain);
  if (!target) {
    f->done(SpfResult::kPermError);
    return Step::kTaken;
  }
  f->ev->dns.Query(net::DnsClient::ReverseName(f->ev->check.ip), DnsType::kPtr,
                   [f, i, target = *target](const DnsAnswer& a) { OnPtr(f, i, target, a); });
  return Step::kTaken;
}

Step EvalExists(const FramePtr& f, size_t i) {
  if (!CountLookup(*f->ev, f->term(i))) {
    f->done(SpfResult::kPermError);
    return Step::kTaken;
  }
  if (f->ev->counting() && f->term(i).has_macros) return Step::kNext;  // the name depends on the IP
  auto target = Target(*f->ev, f->term(i), f->domain);
  if (!target) {
    f->done(SpfResult::kPermError);
    return Step::kTaken;
  }
  f->ev->dns.Query(*target, DnsType::kA, [f, i](const DnsAnswer& a) {
    if (!Usable(f, i, a)) return;
    if (!f->ev->counting() && !a.addrs.empty()) return Match(f, i);
    Next(f, i);
  });
  return Step::kTaken;
}

// Looks up the validated names for %{p} (at most 10 PTR names, each
// resolved back to the IP; failures mean no name), then runs `then`. These
// lookups are not terms: they count toward neither limit (RFC 7208 4.6.4).
// Keeps the names that resolve back to the IP, in PTR order whatever order
// the answers come in, then runs `then`.
void ValidatePNames(const EvalPtr& ev, const std::vector<std::string>& names, const std::function<void()>& then) {
  auto left = std::make_shared<size_t>(names.size());
  auto valid = std::make_shared<std::vector<bool>>(names.size(), false);
  for (size_t k = 0; k < names.size(); ++k) {
    ev->dns.Query(names[k], ev->address_type(), [ev, then, names, k, left, valid](const DnsAnswer& h) {
      (*valid)[k] = AnyInNetwork(ev->check.ip, h.addrs, static_cast<int>(ev->check.ip.size()) * 8);
      if (--*left > 0) return;
      for (size_t j = 0; j < names.size(); ++j) {
        if ((*valid)[j]) ev->p_names.push_back(names[j]);
      }
      ev->p_resolved = true;
      then();
    });
  }
}

// Looks up the validated names for %{p} (at most 10 PTR names, each
// resolved back to the IP; failures mean no name), then runs `then`. These
// lookups are not terms: they count toward neither limit (RFC 7208 4.6.4).
void ResolveP(const EvalPtr& ev, std::function<void()> then) {
  ev->dns.Query(net::DnsClient::ReverseName(ev->check.ip), DnsType::kPtr, [ev, then](const DnsAnswer& a) {
    std::vector<std::string> names;
    for (const auto& n : a.ptr) {
      if (!n.empty() && names.size() < 10) names.push_back(n);
    }
    if (!names.empty()) return ValidatePNames(ev, names, then);
    ev->p_resolved = true;
    then();
  });
}

// Whether term `t` must wait for the %{p} names (count mode does without: "unknown").
bool NeedsP(const Eval& ev, const spf::Term& t) { return !ev.counting() && !ev.p_resolved && UsesP(t); }

Step EvalTerm(const FramePtr& f, size_t i) {
  const spf::Term& t = f->term(i);
  if (t.is_modifier) return Step::kNext;
  if (NeedsP(*f->ev, t)) {
    ResolveP(f->ev, [f, i] { EvalFrom(f, i); });
    return Step::kTaken;
  }
  switch (t.mechanism) {
    case spf::Mechanism::kAll: Match(f, i); return Step::kTaken;
    case spf::Mechanism::kIp4:
    case spf::Mechanism::kIp6: return EvalIp(f, i);
    case spf::Mechanism::kInclude: return EvalInclude(f, i);
    case spf::Mechanism::kA: return EvalA(f, i);
    case spf::Mechanism::kMx: return EvalMx(f, i);
    case spf::Mechanism::kPtr: return EvalPtrTerm(f, i);
    case spf::Mechanism::kExists: return EvalExists(f, i);
  }
  return Step::kNext;
}

// No mechanism matched: redirect= applies unless the record has "all"
// (RFC 7208 6.1), else the result is neutral.
void Finish(const FramePtr& f) {
  const spf::Term* redirect = f->rec->redirect();
  if (redirect == nullptr || f->rec->has_all()) return f->done(SpfResult::kNeutral);
  if (NeedsP(*f->ev, *redirect)) return ResolveP(f->ev, [f] { Finish(f); });
  if (!CountLookup(*f->ev, *redirect)) return f->done(SpfResult::kPermError);
  auto target = Target(*f->ev, *redirect, f->domain);
  if (!target) return f->done(SpfResult::kPermError);
  CheckHost(
      f->ev, *target,
      [f, redirect](SpfResult r) {
        if (r == SpfResult::kNone) {
          SetError(*f->ev, "\"" + redirect->text + "\" names a domain without an SPF record");
          r = SpfResult::kPermError;
        }
        f->done(r);
      },
      f->depth + 1);
}

void EvalFrom(const FramePtr& f, size_t i) {
  for (; i < f->rec->terms.size(); ++i) {
    if (EvalTerm(f, i) == Step::kTaken) return;
  }
  Finish(f);
}

void OnRecords(const EvalPtr& ev, const std::string& domain, const Done& done, int depth, const DnsAnswer& a) {
  if (a.failed()) {
    SetError(*ev, "TXT " + domain + ": " + a.error);
    return done(SpfResult::kTempError);
  }
  std::vector<std::string> records;
  for (const auto& txt : a.txt) {
    if (spf::IsSpfRecord(txt)) records.push_back(txt);
  }
  if (records.empty()) return done(SpfResult::kNone);
  if (records.size() > 1) {
    SetError(*ev, std::to_string(records.size()) + " SPF records for " + domain + " (must be one)");
    return done(SpfResult::kPermError);
  }
  auto parsed = spf::Parse(records[0]);
  if (!parsed.ok()) {
    SetError(*ev, domain + ": " + parsed.status().message());
    return done(SpfResult::kPermError);
  }
  auto rec = std::make_shared<const spf::Record>(std::move(parsed).value());
  EvalFrom(std::make_shared<const Frame>(Frame{ev, std::move(rec), domain, done, depth}), 0);
}

void CheckHost(const EvalPtr& ev, const std::string& domain, Done done, int depth) {
  if (depth > 2 * kMaxSpfLookups) {  // unreachable with the lookup limit; a guard all the same
    SetError(*ev, "SPF: include/redirect nesting too deep");
    return done(SpfResult::kPermError);
  }
  ev->dns.Query(domain, DnsType::kTxt, [ev, domain, done = std::move(done), depth](const DnsAnswer& a) {
    OnRecords(ev, domain, done, depth, a);
  });
}

}  // namespace

std::string_view SpfResultName(SpfResult r) {
  switch (r) {
    case SpfResult::kNone: return "none";
    case SpfResult::kNeutral: return "neutral";
    case SpfResult::kPass: return "pass";
    case SpfResult::kFail: return "fail";
    case SpfResult::kSoftFail: return "softfail";
    case SpfResult::kTempError: return "temperror";
    case SpfResult::kPermError: return "permerror";
  }
  return "?";
}

// RFC 7208 5: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4
// address a.b.c.d for every mechanism and macro.
std::vector<uint8_t> Unmapped(std::vector<uint8_t> ip) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ip.size() == 16 && std::equal(kMapped, kMapped + 12, ip.begin())) ip.erase(ip.begin(), ip.begin() + 12);
  return ip;
}

void EvaluateSpf(DnsQuerier& dns, SpfCheck check, std::function<void(const SpfVerdict&)> done) {
  check.ip = Unmapped(std::move(check.ip));
  auto ev = std::make_shared<Eval>(Eval{dns, std::move(check), std::move(done), {}});
  const std::string domain = ev->check.domain;
  CheckHost(
      ev, domain,
      [ev](SpfResult r) {
        ev->verdict.result = r;
        ev->done(ev->verdict);
      },
      0);
}

}  // namespace mailstack::dns
