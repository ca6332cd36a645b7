// An asynchronous DNS client for one collector run: every query of the run
// is in flight at once on one c-ares channel, answers are dispatched to
// callbacks on the caller's thread (callbacks may issue further queries: SPF
// includes), and everything ends by the run's deadline. Identical queries
// within one client share one lookup. DNS only: no /etc/hosts, no search
// domains.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collectors/core/deadline.h"
#include "collectors/core/status.h"

namespace mailstack::net {

enum class DnsType { kA, kAaaa, kMx, kTxt, kPtr };
std::string_view DnsTypeName(DnsType t);
// A name as DNS compares it: lower case, without the trailing dot.
std::string CanonicalName(std::string_view name);

struct DnsAnswer {
  enum Rcode { kOk, kNxDomain, kNoData, kError } rcode = kError;
  std::string error;                            // kError: why (timeout, SERVFAIL, refused, ...)
  std::vector<std::string> txt;                 // one string per TXT record (its strings concatenated)
  std::vector<std::pair<int, std::string>> mx;  // preference, host (lower case, no trailing dot)
  std::vector<std::vector<uint8_t>> addrs;      // A (4 bytes) or AAAA (16 bytes), network order
  std::vector<std::string> ptr;                 // PTR targets (lower case, no trailing dot)

  bool ok() const { return rcode == kOk; }
  bool failed() const { return rcode == kError; }
  // NXDOMAIN, or NOERROR without records of the type ("void lookup", RFC 7208 4.6.4).
  bool empty() const { return rcode == kNxDomain || rcode == kNoData; }
};

class DnsClient {
 public:
  using Callback = std::function<void(const DnsAnswer&)>;

  // `server`: "IP:PORT" of the DNS server, or "" for the system's resolv.conf.
  // The per-try timeout is derived from the time left until `deadline`.
  static Result<std::unique_ptr<DnsClient>> Create(const std::string& server, const Deadline& deadline);
  ~DnsClient();
  DnsClient(const DnsClient&) = delete;
  DnsClient& operator=(const DnsClient&) = delete;

  // Queues a lookup; `cb` runs later from Run(), never from inside Query().
  void Query(const std::string& name, DnsType type, Callback cb);

  // Runs until every callback has run. At the deadline (or a stop request)
  // the lookups still in flight are cancelled and their callbacks get
  // kError "timed out"; queries issued after that fail at once. Returns
  // DeadlineExceeded if that happened.
  Status Run(const Deadline& deadline, const std::atomic<bool>* stop);

  int lookups() const { return lookups_; }    // distinct queries sent
  int failures() const { return failures_; }  // of those, answered kError
  const std::string& first_error() const { return first_error_; }

  // The reverse name of an IPv4 (d.c.b.a.in-addr.arpa) or IPv6 (nibbles,
  // ip6.arpa) address, without the suffix when `suffix` is false (DNSBL).
  static std::string ReverseName(const std::vector<uint8_t>& ip, bool suffix = true);

 private:
  DnsClient() = default;
  struct Entry {
    bool done = false;
    DnsAnswer answer;
    std::vector<Callback> waiters;
  };
  static void OnAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  void Complete(const std::string& key, DnsAnswer answer);

  void* channel_ = nullptr;                             // ares_channel
  std::map<std::string, Entry> entries_;                // "type name" -> entry
  std::deque<std::pair<Callback, std::string>> ready_;  // callbacks to run, with the entry key
  int in_flight_ = 0;
  bool expired_ = false;
  int lookups_ = 0;
  int failures_ = 0;
  std::string first_error_;
};

}  // namespace mailstack::net
