// DNSBL listings of our IPs (RFC 5782): each IP once, in every configured
// zone; 127.255.255.x and answers outside 127/8 are errors, not listings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collectors/dns/dns_querier.h"

namespace mailstack::dns {

struct DnsblListing {
  std::string ip;    // label form
  std::string zone;  // the blocklist
  int listed = 0;
  int error = 0;  // the query failed or the list answered an error code: `listed` is then unknown
};

// An IP to look up, in its label form and as bytes.
struct DnsblIp {
  std::string label;
  std::vector<uint8_t> bytes;
};

// Classifies an A answer of a DNSBL query into `l`.
void ClassifyDnsblAnswer(const net::DnsAnswer& a, DnsblListing& l);

// Queues the lookup of every IP in every zone. The listings are filled in as
// answers arrive. REQUIRES: `listings` is not touched until the querier's
// owner has run every callback.
void QueryDnsbl(DnsQuerier& dns, const std::vector<DnsblIp>& ips, const std::vector<std::string>& zones,
                std::vector<DnsblListing>& listings);

}  // namespace mailstack::dns
