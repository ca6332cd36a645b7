// The dns collector's options (its YAML section) and their parser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collectors/core/config_node.h"
#include "collectors/core/status.h"

namespace mailstack::dns {

struct DkimSelector {
  std::string selector;  // canonical (lower case)
  std::string key_file;  // optional: private key whose public half DNS must publish
};

struct DomainOptions {
  std::string domain;                          // canonical (lower case, no trailing dot)
  std::string mail_host;                       // canonical; "" if not set
  std::vector<std::string> ips;                // canonical text form (labels); unique
  std::vector<std::vector<uint8_t>> ip_bytes;  // the same, 4 or 16 bytes each
  std::vector<DkimSelector> dkim;              // selectors unique
};

struct Options {
  std::string resolver;                  // IP:PORT or "" (system resolv.conf)
  std::vector<DomainOptions> domains;    // at least one; domains unique
  std::vector<std::string> dnsbl_zones;  // canonical; unique
};

// Errors are "file:line:col: key.path: what is wrong" at the offending node.
Result<Options> ParseOptions(const ConfigNode& section);

// The canonical text form of an IPv4 or IPv6 address, and its bytes.
std::string IpString(const std::vector<uint8_t>& ip);
bool ParseIp(const std::string& s, std::vector<uint8_t>* out);

}  // namespace mailstack::dns
