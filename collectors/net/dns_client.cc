#include "collectors/net/dns_client.h"
#include "collectors/net/resolve.h"
#include "collectors/parse/text.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>

namespace mailstack::net {

std::string CanonicalName(std::string_view name) {
  std::string out = text::AsciiLower(name);
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::string_view DnsTypeName(DnsType t) {
  switch (t) {
    case DnsType::kA: return "A";
    case DnsType::kAaaa: return "AAAA";
    case DnsType::kMx: return "MX";
    case DnsType::kTxt: return "TXT";
    case DnsType::kPtr: return "PTR";
  }
  return "?";
}

namespace {

ares_channel Channel(void* c) { return static_cast<ares_channel>(c); }

int NsType(DnsType t) {
  switch (t) {
    case DnsType::kA: return ns_t_a;
    case DnsType::kAaaa: return ns_t_aaaa;
    case DnsType::kMx: return ns_t_mx;
    case DnsType::kTxt: return ns_t_txt;
    case DnsType::kPtr: return ns_t_ptr;
  }
  return ns_t_a;
}

struct Pending {
  DnsClient* client;
  std::string key;
  DnsType type;
};

// Fills `a` from a NOERROR reply; kNoData when it holds no record of the type.
void ParseReply(DnsType type, const unsigned char* abuf, int alen, DnsAnswer& a) {
  int rc = ARES_SUCCESS;
  switch (type) {
    case DnsType::kA:
    case DnsType::kAaaa: {
      hostent* he = nullptr;
      rc = type == DnsType::kA ? ares_parse_a_reply(abuf, alen, &he, nullptr, nullptr)
                               : ares_parse_aaaa_reply(abuf, alen, &he, nullptr, nullptr);
      if (rc == ARES_SUCCESS && he != nullptr) {
        const size_t len = type == DnsType::kA ? 4 : 16;
        for (char** p = he->h_addr_list; p != nullptr && *p != nullptr; ++p) {
          a.addrs.emplace_back(reinterpret_cast<uint8_t*>(*p), reinterpret_cast<uint8_t*>(*p) + len);
        }
      }
      if (he != nullptr) ares_free_hostent(he);
      break;
    }
    case DnsType::kMx: {
      ares_mx_reply* mx = nullptr;
      rc = ares_parse_mx_reply(abuf, alen, &mx);
      for (ares_mx_reply* m = mx; rc == ARES_SUCCESS && m != nullptr; m = m->next) {
        a.mx.emplace_back(m->priority, CanonicalName(m->host ? m->host : ""));
      }
      if (mx != nullptr) ares_free_data(mx);
      break;
    }
    case DnsType::kTxt: {
      ares_txt_ext* txt = nullptr;
      rc = ares_parse_txt_reply_ext(abuf, alen, &txt);
      for (ares_txt_ext* t = txt; rc == ARES_SUCCESS && t != nullptr; t = t->next) {
        if (t->record_start || a.txt.empty()) a.txt.emplace_back();
        a.txt.back().append(reinterpret_cast<const char*>(t->txt), t->length);
      }
      if (txt != nullptr) ares_free_data(txt);
      break;
    }
    case DnsType::kPtr: {
      hostent* he = nullptr;
      unsigned char dummy[4] = {0, 0, 0, 0};
      rc = ares_parse_ptr_reply(abuf, alen, dummy, sizeof dummy, AF_INET, &he);
      if (rc == ARES_SUCCESS && he != nullptr) {
        if (he->h_name != nullptr) a.ptr.push_back(CanonicalName(he->h_name));
        for (char** p = he->h_aliases; p != nullptr && *p != nullptr; ++p) a.ptr.push_back(CanonicalName(*p));
      }
      if (he != nullptr) ares_free_hostent(he);
      break;
    }
  }
  if (rc == ARES_ENODATA) {
    a.rcode = DnsAnswer::kNoData;
  } else if (rc != ARES_SUCCESS) {
    a.rcode = DnsAnswer::kError;
    a.error = std::string("bad reply: ") + ares_strerror(rc);
  } else {
    const bool none = a.addrs.empty() && a.mx.empty() && a.txt.empty() && a.ptr.empty();
    a.rcode = none ? DnsAnswer::kNoData : DnsAnswer::kOk;
  }
}

}  // namespace

Result<std::unique_ptr<DnsClient>> DnsClient::Create(const std::string& server, const Deadline& deadline) {
  EnsureAresInitialized();
  std::unique_ptr<DnsClient> c(new DnsClient());
  ares_options o{};
  int mask = 0;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.Remaining()).count();
  o.timeout = static_cast<int>(std::clamp<long long>(left / 4, 100, 3000));  // doubled on the retry
  mask |= ARES_OPT_TIMEOUTMS;
  o.tries = 2;
  mask |= ARES_OPT_TRIES;
  o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_EDNS;
  mask |= ARES_OPT_FLAGS;
  o.ednspsz = 1232;
  mask |= ARES_OPT_EDNSPSZ;
  o.lookups = const_cast<char*>("b");  // DNS only
  mask |= ARES_OPT_LOOKUPS;
  ares_channel ch = nullptr;
  if (int rc = ares_init_options(&ch, &o, mask); rc != ARES_SUCCESS) {
    return Status::Internal(std::string("DNS: ") + ares_strerror(rc));
  }
  c->channel_ = ch;
  if (!server.empty()) {
    if (int rc = ares_set_servers_ports_csv(ch, server.c_str()); rc != ARES_SUCCESS) {
      return Status::InvalidArgument("DNS: bad resolver \"" + server + "\": " + ares_strerror(rc));
    }
  }
  return c;
}

DnsClient::~DnsClient() {
  if (channel_ != nullptr) ares_destroy(Channel(channel_));  // runs pending callbacks with ARES_EDESTRUCTION
}

void DnsClient::Query(const std::string& name, DnsType type, Callback cb) {
  const std::string canonical = CanonicalName(name);
  const std::string key = std::string(DnsTypeName(type)) + " " + canonical;
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (e.done) {
    ready_.emplace_back(std::move(cb), key);
    return;
  }
  e.waiters.push_back(std::move(cb));
  if (!inserted) return;  // already in flight
  ++lookups_;
  if (expired_ || canonical.empty() || canonical.size() > 253) {
    DnsAnswer a;
    a.error = expired_ ? "timed out" : "bad name";
    Complete(key, std::move(a));
    return;
  }
  ++in_flight_;
  ares_query(Channel(channel_), canonical.c_str(), ns_c_in, NsType(type), &DnsClient::OnAnswer,
             new Pending{this, key, type});
}

void DnsClient::OnAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(arg));
  if (status == ARES_EDESTRUCTION) return;  // the client is going away
  --p->client->in_flight_;
  DnsAnswer a;
  switch (status) {
    case ARES_SUCCESS: ParseReply(p->type, abuf, alen, a); break;
    case ARES_ENOTFOUND: a.rcode = DnsAnswer::kNxDomain; break;
    case ARES_ENODATA: a.rcode = DnsAnswer::kNoData; break;
    case ARES_ECANCELLED:
    case ARES_ETIMEOUT: a.error = "timed out"; break;
    default: a.error = ares_strerror(status); break;  // SERVFAIL, REFUSED, connection refused, ...
  }
  p->client->Complete(p->key, std::move(a));
}

void DnsClient::Complete(const std::string& key, DnsAnswer answer) {
  Entry& e = entries_[key];
  e.done = true;
  if (answer.failed()) {
    ++failures_;
    if (first_error_.empty()) first_error_ = key + ": " + answer.error;
  }
  e.answer = std::move(answer);
  for (auto& cb : e.waiters) ready_.emplace_back(std::move(cb), key);
  e.waiters.clear();
}

Status DnsClient::Run(const Deadline& deadline, const std::atomic<bool>* stop) {
  ares_channel ch = Channel(channel_);
  while (true) {
    // Callbacks first: they may queue more lookups.
    while (!ready_.empty()) {
      auto [cb, key] = std::move(ready_.front());
      ready_.pop_front();
      cb(entries_[key].answer);
    }
    if (in_flight_ == 0) break;
    if (deadline.Expired() || (stop != nullptr && stop->load(std::memory_order_relaxed))) {
      if (expired_) break;  // cancelled already and still not done: never spin
      expired_ = true;
      ares_cancel(ch);  // every lookup in flight completes with "timed out"
      continue;
    }
    AresWaitOnce(ch, deadline);
  }
  return expired_ ? Status::DeadlineExceeded("DNS: lookups still unanswered at the deadline") : Status::Ok();
}

std::string DnsClient::ReverseName(const std::vector<uint8_t>& ip, bool suffix) {
  std::string out;
  if (ip.size() == 4) {
    for (int i = 3; i >= 0; --i) out += std::to_string(ip[static_cast<size_t>(i)]) + (i > 0 ? "." : "");
    return suffix ? out + ".in-addr.arpa" : out;
  }
  static const char* kHex = "0123456789abcdef";
  for (int i = static_cast<int>(ip.size()) - 1; i >= 0; --i) {
    out += kHex[ip[static_cast<size_t>(i)] & 15];
    out += '.';
    out += kHex[ip[static_cast<size_t>(i)] >> 4];
    if (i > 0) out += '.';
  }
  return suffix ? out + ".ip6.arpa" : out;
}

}  // namespace mailstack::net
