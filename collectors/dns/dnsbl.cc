#include "collectors/dns/dnsbl.h"

namespace mailstack::dns {

void ClassifyDnsblAnswer(const net::DnsAnswer& a, DnsblListing& l) {
  if (a.failed()) {
    l.error = 1;
    return;
  }
  for (const auto& addr : a.addrs) {
    if (addr.size() != 4 || addr[0] != 127) {
      l.error = 1;  // not a DNSBL return code (a hijacking resolver?)
    } else if ((addr[1] == 255 && addr[2] == 255) || (addr[1] == 0 && addr[2] == 0 && addr[3] == 1)) {
      l.error = 1;  // 127.255.255.0/24 (refused, over quota); 127.0.0.1 must never be a listing (RFC 5782 2.1)
    } else {
      l.listed = 1;
    }
  }
}

void QueryDnsbl(DnsQuerier& dns, const std::vector<DnsblIp>& ips, const std::vector<std::string>& zones,
                std::vector<DnsblListing>& listings) {
  listings.clear();
  listings.reserve(ips.size() * zones.size());  // no reallocation: the callbacks keep pointers
  for (const auto& ip : ips) {
    for (const auto& zone : zones) {
      listings.push_back(DnsblListing{ip.label, zone});
      DnsblListing* l = &listings.back();
      dns.Query(net::DnsClient::ReverseName(ip.bytes, false) + "." + zone, net::DnsType::kA,
                [l](const net::DnsAnswer& a) { ClassifyDnsblAnswer(a, *l); });
    }
  }
}

}  // namespace mailstack::dns
