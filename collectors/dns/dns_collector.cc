#include "collectors/dns/dns_collector.h"

#include <algorithm>
#include <deque>
#include <set>

#include "collectors/core/logging.h"
#include "collectors/dns/dkim_keys.h"
#include "collectors/dns/dnsbl.h"
#include "collectors/dns/spf_evaluator.h"
#include "collectors/net/dns_client.h"
#include "collectors/parse/dmarc.h"
#include "collectors/parse/spf.h"

namespace mailstack {
namespace {

using net::CanonicalName;
using net::DnsAnswer;
using net::DnsClient;
using net::DnsType;
using Domain = DnsCollector::Domain;

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
  bool known = false;  // the lookup was answered
  dns::DkimKeyCheck key;
};

struct DomainState {
  Check mx, a, aaaa, ptr, spf, dmarc, mta_sts, tls_rpt;
  std::string dmarc_policy;
  std::set<std::string> failed;  // failed lookups ("TYPE name: error")
  std::vector<int> rdns;         // per ip: -1 unknown, 0, 1
  std::vector<bool> has_ptr;     // per ip: a PTR record exists
  int spf_lookups = -1, spf_voids = -1;
  std::vector<int> spf_pass;  // per ip: -1 unknown, 0, 1
  std::vector<DkimState> dkim;
  std::set<std::string> problems;  // sorted: answers arrive in any order
};

// The collector's DnsQuerier: the run's c-ares client, and the failed
// lookups counted for the domain whose check asked (`failed` null: counted
// for no domain, the DNSBL lookups).
class ClientQuerier final : public dns::DnsQuerier {
 public:
  ClientQuerier(DnsClient& client, std::set<std::string>* failed) : client_(client), failed_(failed) {}
  void Query(const std::string& name, DnsType type, DnsClient::Callback done) override {
    if (failed_ == nullptr) return client_.Query(name, type, std::move(done));
    std::string key = std::string(net::DnsTypeName(type)) + " " + CanonicalName(name);
    client_.Query(name, type, [failed = failed_, key = std::move(key), done = std::move(done)](const DnsAnswer& a) {
      if (a.failed()) failed->insert(key + ": " + a.error);
      done(a);
    });
  }

 private:
  DnsClient& client_;
  std::set<std::string>* failed_;
};

// One domain's checks in one run. Callbacks keep a pointer to it: it is
// created in place and never moved until the client has run every callback.
struct DomainRun {
  DomainRun(const Domain& domain, DnsClient& client) : d(domain), q(client, &st.failed) {
    st.rdns.assign(d.ips.size(), -1);
    st.has_ptr.assign(d.ips.size(), false);
    st.spf_pass.assign(d.ips.size(), -1);
    st.dkim.resize(d.dkim.size());
  }
  DomainRun(const DomainRun&) = delete;
  DomainRun& operator=(const DomainRun&) = delete;

  const Domain& d;
  DomainState st;
  ClientQuerier q;
};

// The TXT records of a name that `is` accepts.
std::vector<std::string> RecordsOf(const DnsAnswer& a, bool (*is)(std::string_view)) {
  std::vector<std::string> out;
  for (const auto& txt : a.txt) {
    if (is(txt)) out.push_back(txt);
  }
  return out;
}

// ---- The checks: each queues its lookups; the answers fill in DomainState.

void CheckMx(DomainRun& r) {
  r.q.Query(r.d.domain, DnsType::kMx, [r = &r](const DnsAnswer& a) {
    if (a.failed()) return;
    bool names = r->d.mail_host.empty() && !a.mx.empty();
    for (const auto& [pref, host] : a.mx) names = names || host == r->d.mail_host;
    r->st.mx.Set(!a.mx.empty(), names);
    if (a.mx.empty()) {
      r->st.problems.insert("no MX record");
    } else if (!names) {
      r->st.problems.insert("no MX names " + r->d.mail_host);
    }
  });
}

// The A (AAAA) set of mail_host equals our IPv4 (IPv6) ips.
void CheckAddresses(DomainRun& r) {
  if (r.d.mail_host.empty()) return;
  for (DnsType type : {DnsType::kA, DnsType::kAaaa}) {
    r.q.Query(r.d.mail_host, type, [r = &r, type](const DnsAnswer& a) {
      if (a.failed()) return;
      const size_t len = type == DnsType::kA ? 4 : 16;
      std::set<std::vector<uint8_t>> want, got(a.addrs.begin(), a.addrs.end());
      for (const auto& ip : r->d.ip_bytes) {
        if (ip.size() == len) want.insert(ip);
      }
      (type == DnsType::kA ? r->st.a : r->st.aaaa).Set(!got.empty(), got == want);
      if (got != want) {
        r->st.problems.insert(std::string(net::DnsTypeName(type)) + " of " + r->d.mail_host +
                              " differs from the configured ips");
      }
    });
  }
}

// mail_host resolves back to ip i (the second half of forward-confirmed reverse DNS).
void CheckForward(DomainRun& r, size_t i) {
  const auto& ip = r.d.ip_bytes[i];
  r.q.Query(r.d.mail_host, ip.size() == 4 ? DnsType::kA : DnsType::kAaaa, [r = &r, i](const DnsAnswer& f) {
    if (f.failed()) return;
    const bool back = std::find(f.addrs.begin(), f.addrs.end(), r->d.ip_bytes[i]) != f.addrs.end();
    r->st.rdns[i] = back ? 1 : 0;
    if (!back) r->st.problems.insert(r->d.mail_host + " does not resolve back to " + r->d.ips[i]);
  });
}

// Every ip's PTR names mail_host, which resolves back to it.
void CheckReverseDns(DomainRun& r) {
  if (r.d.mail_host.empty()) return;
  for (size_t i = 0; i < r.d.ips.size(); ++i) {
    r.q.Query(DnsClient::ReverseName(r.d.ip_bytes[i]), DnsType::kPtr, [r = &r, i](const DnsAnswer& a) {
      if (a.failed()) return;
      r->st.has_ptr[i] = !a.ptr.empty();
      if (std::find(a.ptr.begin(), a.ptr.end(), r->d.mail_host) != a.ptr.end()) return CheckForward(*r, i);
      r->st.rdns[i] = 0;
      r->st.problems.insert("PTR of " + r->d.ips[i] + " is " + (a.ptr.empty() ? "missing" : a.ptr[0]) + ", not " +
                            r->d.mail_host);
    });
  }
}

dns::SpfCheck SpfCheckFor(const Domain& d, std::vector<uint8_t> ip) {
  return dns::SpfCheck{std::move(ip), d.domain, "postmaster@" + d.domain, d.mail_host};
}

// SPF: the record, the lookup count over the whole tree, and check_host() per ip.
void CheckSpf(DomainRun& r) {
  r.q.Query(r.d.domain, DnsType::kTxt, [r = &r](const DnsAnswer& a) {
    if (a.failed()) return;
    const bool any = !RecordsOf(a, spf::IsSpfRecord).empty();
    r->st.spf.Set(any, false);  // valid is decided by the evaluation below
    if (!any) r->st.problems.insert("no SPF record");
  });
  dns::EvaluateSpf(r.q, SpfCheckFor(r.d, {}), [r = &r](const dns::SpfVerdict& v) {
    if (v.result == dns::SpfResult::kTempError) return;
    r->st.spf_lookups = v.lookups;
    r->st.spf_voids = v.voids;
    const bool ok = v.result != dns::SpfResult::kPermError && v.result != dns::SpfResult::kNone;
    if (r->st.spf.known) r->st.spf.valid = ok && r->st.spf.present;
    if (v.result == dns::SpfResult::kPermError) r->st.problems.insert("SPF: " + v.error);
  });
  for (size_t i = 0; i < r.d.ips.size(); ++i) {
    dns::EvaluateSpf(r.q, SpfCheckFor(r.d, r.d.ip_bytes[i]), [r = &r, i](const dns::SpfVerdict& v) {
      if (v.result == dns::SpfResult::kTempError) return;
      r->st.spf_pass[i] = v.result == dns::SpfResult::kPass ? 1 : 0;
      if (v.result != dns::SpfResult::kPass) r->st.problems.insert("SPF does not authorize " + r->d.ips[i]);
    });
  }
}

void CheckDmarc(DomainRun& r) {
  r.q.Query("_dmarc." + r.d.domain, DnsType::kTxt, [r = &r](const DnsAnswer& a) {
    if (a.failed()) return;
    const std::vector<std::string> recs = RecordsOf(a, dmarc::IsDmarcRecord);
    if (recs.size() != 1) {
      r->st.dmarc.Set(!recs.empty(), false);
      r->st.problems.insert(recs.empty() ? "no DMARC record" : "more than one DMARC record");
      return;
    }
    auto parsed = dmarc::Parse(recs[0]);
    r->st.dmarc.Set(true, parsed.ok());
    if (parsed.ok()) {
      r->st.dmarc_policy = parsed->policy;
    } else {
      r->st.problems.insert(parsed.status().message());
    }
  });
}

void CheckMtaSts(DomainRun& r) {
  r.q.Query("_mta-sts." + r.d.domain, DnsType::kTxt, [r = &r](const DnsAnswer& a) {
    if (a.failed()) return;
    const std::vector<std::string> recs = RecordsOf(a, dmarc::IsMtaStsRecord);
    r->st.mta_sts.Set(!recs.empty(), recs.size() == 1 && dmarc::ParseMtaSts(recs[0]).ok());
  });
}

void CheckTlsRpt(DomainRun& r) {
  r.q.Query("_smtp._tls." + r.d.domain, DnsType::kTxt, [r = &r](const DnsAnswer& a) {
    if (a.failed()) return;
    const std::vector<std::string> recs = RecordsOf(a, dmarc::IsTlsRptRecord);
    r->st.tls_rpt.Set(!recs.empty(), recs.size() == 1 && dmarc::ParseTlsRpt(recs[0]).ok());
  });
}

void CheckDkim(DomainRun& r) {
  for (size_t k = 0; k < r.d.dkim.size(); ++k) {
    const std::string name = r.d.dkim[k].selector + "._domainkey." + r.d.domain;
    r.q.Query(name, DnsType::kTxt, [r = &r, k, name](const DnsAnswer& a) {
      if (a.failed()) return;
      DkimState& ds = r->st.dkim[k];
      ds.known = true;
      ds.key = dns::CheckDkimKey(a.txt, "DKIM " + name, r->d.dkim[k].key_file);
      r->st.problems.insert(ds.key.problems.begin(), ds.key.problems.end());
    });
  }
}

void StartChecks(DomainRun& r) {
  CheckMx(r);
  CheckAddresses(r);
  CheckReverseDns(r);
  CheckSpf(r);
  CheckDmarc(r);
  CheckMtaSts(r);
  CheckTlsRpt(r);
  CheckDkim(r);
}

// Every configured ip once, in the order of the domains.
std::vector<dns::DnsblIp> DnsblIps(const std::vector<Domain>& domains) {
  std::vector<dns::DnsblIp> out;
  for (const auto& d : domains) {
    for (size_t i = 0; i < d.ips.size(); ++i) {
      auto same = [&](const dns::DnsblIp& ip) { return ip.label == d.ips[i]; };
      if (std::none_of(out.begin(), out.end(), same)) out.push_back(dns::DnsblIp{d.ips[i], d.ip_bytes[i]});
    }
  }
  return out;
}

// ---- Publishing, once every answer is in (or the deadline passed).

// ptr is known once every ip's reverse check is.
void DecidePtr(const Domain& d, DomainState& st) {
  if (d.ips.empty() || d.mail_host.empty()) return;
  if (!std::all_of(st.rdns.begin(), st.rdns.end(), [](int v) { return v >= 0; })) return;
  st.ptr.Set(std::all_of(st.has_ptr.begin(), st.has_ptr.end(), [](bool v) { return v; }),
             std::all_of(st.rdns.begin(), st.rdns.end(), [](int v) { return v == 1; }));
}

void PublishRecords(std::string_view dom, const DomainState& st, MetricSink& sink) {
  const std::pair<std::string_view, const Check*> records[] = {
      {"mx", &st.mx},   {"a", &st.a},         {"aaaa", &st.aaaa},       {"ptr", &st.ptr},
      {"spf", &st.spf}, {"dmarc", &st.dmarc}, {"mta_sts", &st.mta_sts}, {"tls_rpt", &st.tls_rpt}};
  for (const auto& [record, c] : records) {
    if (!c->known) continue;
    sink.Gauge(kPresent, {dom, record}, c->present ? 1 : 0);
    sink.Gauge(kValid, {dom, record}, c->valid ? 1 : 0);
  }
}

void PublishDkim(const Domain& d, const DomainState& st, MetricSink& sink) {
  for (size_t k = 0; k < d.dkim.size(); ++k) {
    const DkimState& ds = st.dkim[k];
    if (!ds.known) continue;
    const LabelValues<2> labels{d.domain, d.dkim[k].selector};
    sink.Gauge(kDkimPresent, labels, ds.key.present ? 1 : 0);
    sink.Gauge(kDkimValid, labels, ds.key.valid ? 1 : 0);
    if (ds.key.bits >= 0) sink.Gauge(kDkimBytes, labels, ds.key.bits / 8.0);
    if (ds.key.matches >= 0) sink.Gauge(kDkimMatches, labels, ds.key.matches);
    if (!d.dkim[k].key_file.empty()) sink.Gauge(kDkimKeyFileError, labels, ds.key.file_error ? 1 : 0);
  }
}

void PublishDomain(const Domain& d, DomainState& st, MetricSink& sink) {
  const std::string_view dom = d.domain;
  if (st.spf.known && st.spf_lookups < 0) st.spf.known = false;  // the evaluation did not finish
  DecidePtr(d, st);
  PublishRecords(dom, st, sink);
  sink.Gauge(kLookupFailures, {dom}, static_cast<double>(st.failed.size()));
  if (st.spf_lookups >= 0) {
    sink.Gauge(kSpfLookups, {dom}, st.spf_lookups);
    sink.Gauge(kSpfVoids, {dom}, st.spf_voids);
  }
  for (size_t i = 0; i < d.ips.size(); ++i) {
    if (st.spf_pass[i] >= 0) sink.Gauge(kSpfAuthorizes, {dom, d.ips[i]}, st.spf_pass[i]);
    if (st.rdns[i] >= 0) sink.Gauge(kReverseDns, {dom, d.ips[i]}, st.rdns[i]);
  }
  if (st.dmarc.known && st.dmarc.valid) sink.StateSet(kDmarcPolicy, {dom}, kPolicies, st.dmarc_policy);
  PublishDkim(d, st, sink);
}

// The domain's problems in one stable text ("" when there are none).
std::string ProblemsOf(const DomainState& st) {
  std::string out;
  for (const auto& f : st.failed) out += (out.empty() ? "" : "; ") + std::string("lookup failed: ") + f;
  for (const auto& p : st.problems) out += (out.empty() ? "" : "; ") + p;
  return out;
}

void PublishDnsbl(const std::vector<dns::DnsblListing>& listings, MetricSink& sink) {
  for (const auto& l : listings) {
    // "blocklist", not "zone": zone is a common target label (region, DNS zone) that would clash.
    sink.Gauge(kDnsblListed, {l.ip, l.zone}, l.listed);
    sink.Gauge(kDnsblError, {l.ip, l.zone}, l.error);
  }
}

}  // namespace

std::vector<MetricDesc> DnsCollector::Families() {
  return {kPresent,          kValid,       kLookupFailures, kSpfLookups,  kSpfVoids,
          kSpfAuthorizes,    kDkimPresent, kDkimValid,      kDkimBytes,   kDkimMatches,
          kDkimKeyFileError, kDmarcPolicy, kReverseDns,     kDnsblListed, kDnsblError};
}

Status DnsCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  // Lookups end a little before the run's deadline, so what was answered is published.
  const Deadline deadline = ctx.WorkDeadline();
  MS_ASSIGN_OR_RETURN(std::unique_ptr<DnsClient> client, DnsClient::Create(options_.resolver, deadline));
  std::deque<DomainRun> runs;  // a deque: elements stay where they are
  for (const Domain& d : options_.domains) StartChecks(runs.emplace_back(d, *client));
  ClientQuerier dnsbl(*client, nullptr);
  std::vector<dns::DnsblListing> listings;
  dns::QueryDnsbl(dnsbl, DnsblIps(options_.domains), options_.dnsbl_zones, listings);

  (void)client->Run(deadline, ctx.stop);

  for (DomainRun& r : runs) {
    PublishDomain(r.d, r.st, sink);
    problems_.Report(r.d.domain, ProblemsOf(r.st));
  }
  PublishDnsbl(listings, sink);
  if (client->lookups() > 0 && client->failures() == client->lookups()) {
    return Status::Unavailable("no DNS lookup was answered (" + client->first_error() + ")");
  }
  return Status::Ok();
}

void DnsCollector::TakeStateFrom(Collector& previous) {
  auto* prev = dynamic_cast<DnsCollector*>(&previous);
  if (prev == nullptr || prev == this) return;
  problems_.TakeFrom(prev->problems_);
}

}  // namespace mailstack
