#include "collectors/dns/dns_options.h"

#include <arpa/inet.h>

#include "collectors/net/dns_client.h"
#include "collectors/net/resolve.h"

namespace mailstack::dns {
namespace {

using net::CanonicalName;

Result<std::string> ParseResolver(const ConfigNode& node) {
  MS_ASSIGN_OR_RETURN(std::string resolver, node.AsString(""));
  if (!resolver.empty() && !net::IsDnsServerAddress(resolver)) {
    return node.Error("must be IP:PORT of a DNS server (got \"" + resolver + "\")");
  }
  return resolver;
}

Status CheckIp(const ConfigNode& item, const std::string& value) {
  std::vector<uint8_t> bytes;
  if (!ParseIp(value, &bytes)) return item.Error("must be an IPv4 or IPv6 address (got \"" + value + "\")");
  return Status::Ok();
}

Status CheckZone(const ConfigNode& item, const std::string& value) {
  if (!net::IsHostName(value)) return item.Error("must be a DNS zone (got \"" + value + "\")");
  return Status::Ok();
}

std::string CanonicalIp(const std::string& value) {
  std::vector<uint8_t> bytes;
  ParseIp(value, &bytes);  // checked by CheckIp
  return IpString(bytes);
}

Result<std::vector<DkimSelector>> ParseDkim(const ConfigNode& list) {
  MS_RETURN_IF_ERROR(list.ExpectList());
  std::vector<DkimSelector> out;
  UniqueKeys selectors("selector");
  for (const auto& item : list.Items()) {
    MS_RETURN_IF_ERROR(item.ExpectMap({"selector", "key_file"}));
    if (!item.is_map()) return item.Error("must be a map with selector and key_file");
    MS_ASSIGN_OR_RETURN(std::string selector, item["selector"].AsString());
    if (!net::IsHostName(selector)) {
      return item["selector"].Error("must be a DNS label (got \"" + selector + "\")");
    }
    MS_ASSIGN_OR_RETURN(std::string key_file, item["key_file"].AsAbsolutePath(""));
    // "mail" and "MAIL" are one DNS name; the message shows what the user wrote.
    MS_RETURN_IF_ERROR(selectors.Add(item["selector"], CanonicalName(selector), selector));
    out.push_back(DkimSelector{CanonicalName(selector), key_file});
  }
  return out;
}

Result<DomainOptions> ParseDomain(const ConfigNode& item, UniqueKeys& domains) {
  MS_RETURN_IF_ERROR(item.ExpectMap({"domain", "mail_host", "ips", "dkim"}));
  if (!item.is_map()) return item.Error("must be a map with domain, mail_host, ips, dkim");
  DomainOptions d;
  MS_ASSIGN_OR_RETURN(std::string name, item["domain"].AsString());
  if (!net::IsHostName(name)) return item["domain"].Error("must be a domain name (got \"" + name + "\")");
  d.domain = CanonicalName(name);
  MS_RETURN_IF_ERROR(domains.Add(item["domain"], d.domain));
  MS_ASSIGN_OR_RETURN(std::string host, item["mail_host"].AsString(""));
  if (!host.empty() && !net::IsHostName(host)) {
    return item["mail_host"].Error("must be a host name (got \"" + host + "\")");
  }
  d.mail_host = CanonicalName(host);
  MS_ASSIGN_OR_RETURN(d.ips, item["ips"].AsUniqueStringList("ip", CheckIp, CanonicalIp));
  for (const auto& ip : d.ips) ParseIp(ip, &d.ip_bytes.emplace_back());
  MS_ASSIGN_OR_RETURN(d.dkim, ParseDkim(item["dkim"]));
  return d;
}

Result<std::vector<std::string>> ParseDnsbl(const ConfigNode& dnsbl) {
  if (!dnsbl.defined() || dnsbl.null()) return std::vector<std::string>{};
  MS_RETURN_IF_ERROR(dnsbl.ExpectMap({"zones"}));
  const ConfigNode zones = dnsbl["zones"];
  if (!zones.defined()) return zones.Error("missing required key");
  return zones.AsUniqueStringList("zone", CheckZone, CanonicalName);
}

}  // namespace

std::string IpString(const std::vector<uint8_t>& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.size() == 4 ? AF_INET : AF_INET6, ip.data(), buf, sizeof buf);
  return buf;
}

bool ParseIp(const std::string& s, std::vector<uint8_t>* out) {
  unsigned char b[16];
  if (inet_pton(AF_INET, s.c_str(), b) == 1) {
    out->assign(b, b + 4);
  } else if (inet_pton(AF_INET6, s.c_str(), b) == 1) {
    out->assign(b, b + 16);
  } else {
    return false;
  }
  return true;
}

Result<Options> ParseOptions(const ConfigNode& section) {
  MS_RETURN_IF_ERROR(section.ExpectMap({"resolver", "domains", "dnsbl"}));
  Options o;
  MS_ASSIGN_OR_RETURN(o.resolver, ParseResolver(section["resolver"]));
  const ConfigNode domains = section["domains"];
  MS_RETURN_IF_ERROR(domains.ExpectList());
  UniqueKeys names("domain");
  for (const auto& item : domains.Items()) {
    MS_ASSIGN_OR_RETURN(auto d, ParseDomain(item, names));
    o.domains.push_back(std::move(d));
  }
  if (o.domains.empty()) return domains.Error("must list at least one domain");
  MS_ASSIGN_OR_RETURN(o.dnsbl_zones, ParseDnsbl(section["dnsbl"]));
  return o;
}

}  // namespace mailstack::dns
