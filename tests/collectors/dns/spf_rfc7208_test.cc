// The RFC 7208 conformance suite (openspf.org, release 2014.04: 203 cases
// with their zone data), as Debian's python3-spf ships it, run against the
// SPF evaluator over FakeDns. The file is a test dependency (python3-spf);
// the test fails if it is missing. MAILSTACK_RFC7208_TESTS names another copy.
//
// The zone data is loaded as pyspf's own driver (testspf.py) loads it: SPF
// records are also TXT records unless the name has TXT records ("TXT: NONE"
// says "no TXT"); a bare TIMEOUT makes every type not listed before it time
// out; a CNAME answers with its target's records (one level). The identity
// is MAIL FROM's domain, or the HELO name when MAIL FROM is empty
// (check_host(ip, helo, "postmaster@" helo)); a MAIL FROM without local-part
// gets "postmaster" (RFC 7208 4.3). The explanation (exp=) is not compared:
// the exporter does not evaluate it, only the result.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "collectors/dns/dns_options.h"
#include "collectors/dns/spf_evaluator.h"
#include "tests/collectors/dns/fake_dns.h"

namespace mailstack::dns {
namespace {

using testing::FakeDns;

constexpr const char* kSuite = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz";

// Cases not run, and why. None today: every case of the suite is a
// check_host() result (HELO cases are check_host() of the HELO name), and
// the explanation text is not compared (see above).
const std::map<std::string, std::string> kSkipped = {};

// Cases run whose result differs from the suite's, and why. The test fails
// if one of them passes (then take it off this list).
const std::map<std::string, std::string> kKnownFailures = {};

Result<std::string> ReadGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return Status::NotFound(path + ": cannot open");
  std::string out;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  const bool ok = n == 0;
  gzclose(f);
  if (!ok) return Status::InvalidArgument(path + ": not a readable gzip file");
  return out;
}

// A TXT/SPF value: one string, or a list of strings joined without separator (RFC 7208 3.3).
std::string Joined(const YAML::Node& v) {
  if (!v.IsSequence()) return v.as<std::string>();
  std::string out;
  for (const auto& s : v) out += s.as<std::string>();
  return out;
}

const std::vector<net::DnsType> kAllTypes = {net::DnsType::kA, net::DnsType::kAaaa, net::DnsType::kMx,
                                             net::DnsType::kTxt, net::DnsType::kPtr};

// One name's records, loaded as testspf.py's getrdata() and DNSLookup() read them.
void LoadName(FakeDns& zone, const std::string& name, const YAML::Node& entries) {
  zone.AddName(name);
  std::vector<std::string> spf;  // become TXT records unless the name has TXT records
  bool has_txt = false;
  std::set<net::DnsType> answered;  // types with records before a TIMEOUT
  for (const auto& e : entries) {
    if (e.IsScalar()) {  // TIMEOUT: every type without records so far times out, the rest is not read
      for (auto t : kAllTypes) {
        if (answered.count(t) == 0) zone.AddTimeout(name, t);
      }
      break;
    }
    const std::string type = e.begin()->first.as<std::string>();
    const YAML::Node v = e.begin()->second;
    if (type == "TXT") {
      has_txt = true;
      if (v.IsScalar() && v.as<std::string>() == "NONE") continue;
      zone.AddTxt(name, Joined(v));
      answered.insert(net::DnsType::kTxt);
    } else if (type == "SPF") {
      spf.push_back(Joined(v));
    } else if (type == "A" || type == "AAAA") {
      zone.AddA(name, v.as<std::string>());
      answered.insert(type == "A" ? net::DnsType::kA : net::DnsType::kAaaa);
    } else if (type == "MX") {
      zone.AddMx(name, v[0].as<int>(), v[1].as<std::string>());
      answered.insert(net::DnsType::kMx);
    } else if (type == "PTR") {
      zone.AddPtr(name, v.as<std::string>());
      answered.insert(net::DnsType::kPtr);
    } else if (type == "CNAME") {
      zone.AddCname(name, v.as<std::string>());
    } else {
      ADD_FAILURE() << name << ": record type " << type << " not loaded";
    }
  }
  if (!has_txt) {
    for (const auto& s : spf) zone.AddTxt(name, s);
  }
}

struct Case {
  std::string name;
  std::string helo, host, mailfrom;
  std::set<std::string> results;  // any of them is right
};

std::string Verdict(const FakeDns& zone_template, const Case& c) {
  FakeDns zone = zone_template;
  SpfCheck check;
  if (!ParseIp(c.host, &check.ip)) return "bad host " + c.host;
  check.helo = c.helo;
  if (c.mailfrom.empty()) {
    check.domain = c.helo;
    check.sender = "postmaster@" + c.helo;
  } else {
    const size_t at = c.mailfrom.rfind('@');
    check.domain = at == std::string::npos ? c.mailfrom : c.mailfrom.substr(at + 1);
    check.sender = at == 0 ? "postmaster" + c.mailfrom : c.mailfrom;
  }
  std::string got = "(no result)";
  EvaluateSpf(zone, check, [&](const SpfVerdict& v) { got = std::string(SpfResultName(v.result)); });
  zone.Run();
  return got;
}

Case ReadCase(const std::string& name, const YAML::Node& t) {
  Case c{name, t["helo"].as<std::string>(""), t["host"].as<std::string>(""), t["mailfrom"].as<std::string>(""), {}};
  const YAML::Node r = t["result"];
  if (r.IsSequence()) {
    for (const auto& x : r) c.results.insert(x.as<std::string>());
  } else {
    c.results.insert(r.as<std::string>());
  }
  return c;
}

TEST(SpfRfc7208SuiteTest, EveryCase) {
  const char* env = std::getenv("MAILSTACK_RFC7208_TESTS");
  const std::string path = env != nullptr ? env : kSuite;
  auto text = ReadGzip(path);
  ASSERT_TRUE(text.ok()) << text.status().message() << " (Debian package python3-spf, a test dependency)";
  const std::vector<YAML::Node> scenarios = YAML::LoadAll(*text);
  int passed = 0, skipped = 0, known = 0, total = 0;
  std::set<std::string> seen;
  for (const auto& scenario : scenarios) {
    if (!scenario.IsMap()) continue;
    FakeDns zone;
    for (const auto& entry : scenario["zonedata"]) LoadName(zone, entry.first.as<std::string>(), entry.second);
    for (const auto& t : scenario["tests"]) {
      const Case c = ReadCase(t.first.as<std::string>(), t.second);
      ++total;
      seen.insert(c.name);
      if (kSkipped.count(c.name) != 0) {
        ++skipped;
        continue;
      }
      const std::string got = Verdict(zone, c);
      const bool right = c.results.count(got) != 0;
      const bool listed = kKnownFailures.count(c.name) != 0;
      if (listed) {
        ++known;
        EXPECT_FALSE(right) << c.name << " passes now: take it off kKnownFailures";
        continue;
      }
      EXPECT_TRUE(right) << c.name << " (" << scenario["description"].as<std::string>("") << "): got " << got
                         << ", want " << *c.results.begin() << (c.results.size() > 1 ? " (or another listed)" : "");
      passed += right ? 1 : 0;
    }
  }
  for (const auto& list : {kSkipped, kKnownFailures}) {
    for (const auto& [name, why] : list) EXPECT_EQ(seen.count(name), 1u) << name << " is not a case of the suite";
  }
  EXPECT_EQ(total, 203);
  std::cout << "RFC 7208 suite: " << passed << " passed, " << skipped << " skipped, " << known
            << " known failures (listed in tests/collectors/dns/spf_rfc7208_test.cc)\n";
}

}  // namespace
}  // namespace mailstack::dns
