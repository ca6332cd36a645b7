// The DNS lookups the dns checks need, behind one small interface: the
// collector's implementation forwards to net::DnsClient (c-ares, every query
// of a run in flight at once) and counts a domain's failed lookups; tests use
// an in-memory zone (tests/collectors/dns/fake_dns.h).
#pragma once

#include <string>

#include "collectors/net/dns_client.h"

namespace mailstack::dns {

// Asynchronous, like net::DnsClient: a lookup's callback runs later, from the
// owner's event loop, never from inside Query() (so a check may issue further
// lookups from a callback: SPF includes). The run's deadline is the owner's
// (DnsClient::Run ends every lookup by it with kError "timed out"); a
// synchronous Query(name, type, deadline) would put one evaluation's lookups
// in a row instead of in flight together.
// Not thread-safe: one collector run on one thread.
class DnsQuerier {
 public:
  virtual ~DnsQuerier() = default;
  virtual void Query(const std::string& name, net::DnsType type, net::DnsClient::Callback done) = 0;
};

}  // namespace mailstack::dns
