#include "tests/collectors/dns/fake_dns.h"

#include "collectors/dns/dns_options.h"

namespace mailstack::testing {

using net::CanonicalName;
using net::DnsAnswer;
using net::DnsType;

void FakeDns::AddName(const std::string& name) { zone_[CanonicalName(name)]; }
void FakeDns::AddTxt(const std::string& name, const std::string& text) {
  zone_[CanonicalName(name)].txt.push_back(text);
}
void FakeDns::AddA(const std::string& name, const std::string& ip) {
  std::vector<uint8_t> bytes;
  if (!dns::ParseIp(ip, &bytes)) return;
  Entry& e = zone_[CanonicalName(name)];
  (bytes.size() == 4 ? e.a : e.aaaa).push_back(bytes);
}
void FakeDns::AddMx(const std::string& name, int preference, const std::string& host) {
  zone_[CanonicalName(name)].mx.emplace_back(preference, CanonicalName(host));
}
void FakeDns::AddPtr(const std::string& name, const std::string& host) {
  zone_[CanonicalName(name)].ptr.push_back(CanonicalName(host));
}
void FakeDns::AddCname(const std::string& name, const std::string& target) {
  zone_[CanonicalName(name)].cname = CanonicalName(target);
}
void FakeDns::AddTimeout(const std::string& name, DnsType type) { zone_[CanonicalName(name)].timeouts.insert(type); }

DnsAnswer FakeDns::Answer(const std::string& name, DnsType type, int depth) const {
  DnsAnswer a;
  auto it = zone_.find(name);
  if (it == zone_.end()) {
    a.rcode = DnsAnswer::kNxDomain;
    return a;
  }
  const Entry& e = it->second;
  if (e.timeouts.count(type) != 0) {
    a.rcode = DnsAnswer::kError;
    a.error = "timed out";
    return a;
  }
  if (!e.cname.empty() && depth == 0) return Answer(e.cname, type, depth + 1);
  switch (type) {
    case DnsType::kA: a.addrs = e.a; break;
    case DnsType::kAaaa: a.addrs = e.aaaa; break;
    case DnsType::kMx: a.mx = e.mx; break;
    case DnsType::kTxt: a.txt = e.txt; break;
    case DnsType::kPtr: a.ptr = e.ptr; break;
  }
  const bool none = a.addrs.empty() && a.mx.empty() && a.txt.empty() && a.ptr.empty();
  a.rcode = none ? DnsAnswer::kNoData : DnsAnswer::kOk;
  return a;
}

void FakeDns::Query(const std::string& name, DnsType type, net::DnsClient::Callback done) {
  const std::string key = CanonicalName(name);
  queries_.push_back(std::string(net::DnsTypeName(type)) + " " + key);
  ready_.emplace_back(std::move(done), Answer(key, type, 0));
}

void FakeDns::Run() {
  while (!ready_.empty()) {
    auto [cb, answer] = std::move(ready_.front());
    ready_.pop_front();
    cb(answer);
  }
}

}  // namespace mailstack::testing
