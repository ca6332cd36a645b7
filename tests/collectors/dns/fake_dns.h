// An in-memory DNS zone behind the dns checks' DnsQuerier interface, for
// unit tests of the SPF evaluator and the other checks: answers are queued
// and delivered by Run(), as net::DnsClient delivers them from its event
// loop (never from inside Query()).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "collectors/dns/dns_querier.h"

namespace mailstack::testing {

class FakeDns final : public dns::DnsQuerier {
 public:
  // A name is a zone entry once anything is added for it: its other types
  // answer NOERROR without records (a void lookup), names never added
  // answer NXDOMAIN. Names compare as DNS does (case, trailing dot).
  void AddName(const std::string& name);
  void AddTxt(const std::string& name, const std::string& text);
  void AddA(const std::string& name, const std::string& ip);  // IPv4 or IPv6 text (A or AAAA)
  void AddMx(const std::string& name, int preference, const std::string& host);
  void AddPtr(const std::string& name, const std::string& host);
  // Queries of `name` (any type but CNAME) get the target's answer (one level, as a resolver's
  // answer with the chain would).
  void AddCname(const std::string& name, const std::string& target);
  // Queries of `name` for `type` fail with kError "timed out".
  void AddTimeout(const std::string& name, net::DnsType type);

  void Query(const std::string& name, net::DnsType type, net::DnsClient::Callback done) override;
  // Delivers queued answers (and those their callbacks queue) until none is left.
  void Run();

  const std::vector<std::string>& queries() const { return queries_; }  // "TYPE name", in order

 private:
  struct Entry {
    std::vector<std::string> txt;
    std::vector<std::pair<int, std::string>> mx;
    std::vector<std::vector<uint8_t>> a, aaaa;
    std::vector<std::string> ptr;
    std::string cname;
    std::set<net::DnsType> timeouts;
  };
  net::DnsAnswer Answer(const std::string& name, net::DnsType type, int depth) const;

  std::map<std::string, Entry> zone_;
  std::deque<std::pair<net::DnsClient::Callback, net::DnsAnswer>> ready_;
  std::vector<std::string> queries_;
};

}  // namespace mailstack::testing
