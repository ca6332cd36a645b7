#include "collectors/net/resolve.h"

#include "collectors/net/socket.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace mailstack::net {

std::string SockAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
  inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
}

void EnsureAresInitialized() {
  static std::once_flag init;
  std::call_once(init, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

void AresWaitOnce(ares_channel ch, const Deadline& deadline) {
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  const int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
  pollfd fds[ARES_GETSOCK_MAXNUM];
  int n = 0;
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    short ev = 0;
    if (ARES_GETSOCK_READABLE(bits, i)) ev |= POLLIN;
    if (ARES_GETSOCK_WRITABLE(bits, i)) ev |= POLLOUT;
    if (ev != 0) fds[n++] = pollfd{socks[i], ev, 0};
  }
  timeval max_tv{0, 100000};  // wake at least every 100 ms: the caller looks at its deadline and stop flag
  timeval tv{};
  ares_timeout(ch, &max_tv, &tv);
  int wait_ms = static_cast<int>(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
  if (const int left_ms = deadline.RemainingPollMs(); left_ms >= 0) wait_ms = std::min(wait_ms, left_ms);
  if (::poll(fds, static_cast<nfds_t>(n), wait_ms) <= 0) {
    ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts and retries
    return;
  }
  for (int i = 0; i < n; ++i) {
    ares_socket_t r = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
    ares_socket_t w = (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
    if (r != ARES_SOCKET_BAD || w != ARES_SOCKET_BAD) ares_process_fd(ch, r, w);
  }
}

bool IsDnsServerAddress(const std::string& address) {
  std::string host;
  uint16_t port = 0;
  return SplitHostPort(address, &host, &port).ok() && host != "localhost" && ValidateAddress(address).ok();
}

bool IsHostName(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ldh || ++label > 63) return false;
    if (c == '-' && label == 1) return false;
  }
  return true;
}

namespace {

struct Query {
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<SockAddr> out;
};

void OnAddrInfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
  auto* q = static_cast<Query*>(arg);
  q->done = true;
  q->status = status;
  if (status == ARES_SUCCESS && res != nullptr) {
    for (ares_addrinfo_node* n = res->nodes; n != nullptr; n = n->ai_next) {
      if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
          static_cast<size_t>(n->ai_addrlen) > sizeof(sockaddr_storage)) {
        continue;
      }
      SockAddr a;
      std::memcpy(&a.addr, n->ai_addr, n->ai_addrlen);
      a.len = n->ai_addrlen;
      q->out.push_back(a);
    }
  }
  if (res != nullptr) ares_freeaddrinfo(res);
}

}  // namespace

Result<std::vector<SockAddr>> Resolve(const std::string& host, uint16_t port, const std::string& server,
                                      const Deadline& deadline, const std::atomic<bool>* stop) {
  EnsureAresInitialized();
  const std::string ctx = "resolve " + host;
  ares_options o{};
  int mask = 0;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.Remaining()).count();
  // c-ares gives up after timeout + 2 x timeout: before the deadline, so a
  // silent DNS server is "no answer" (reason resolve), not the probe's timeout.
  o.timeout = static_cast<int>(std::clamp<long long>(left / 4, 100, 2000));
  mask |= ARES_OPT_TIMEOUTMS;
  o.tries = 2;
  mask |= ARES_OPT_TRIES;
  o.flags = ARES_FLAG_NOSEARCH;
  mask |= ARES_OPT_FLAGS;
  ares_channel ch = nullptr;
  if (int rc = ares_init_options(&ch, &o, mask); rc != ARES_SUCCESS) {
    return Status::Internal(ctx + ": " + ares_strerror(rc));
  }
  if (!server.empty()) {
    if (int rc = ares_set_servers_ports_csv(ch, server.c_str()); rc != ARES_SUCCESS) {
      ares_destroy(ch);
      return Status::InvalidArgument(ctx + ": bad resolver \"" + server + "\": " + ares_strerror(rc));
    }
  }
  Query q;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string service = std::to_string(port);
  ares_getaddrinfo(ch, host.c_str(), service.c_str(), &hints, &OnAddrInfo, &q);
  bool timed_out = false;
  while (!q.done) {
    if (deadline.Expired() || (stop != nullptr && stop->load(std::memory_order_relaxed))) {
      timed_out = true;
      ares_cancel(ch);  // calls OnAddrInfo with ARES_ECANCELLED
      break;
    }
    AresWaitOnce(ch, deadline);
  }
  ares_destroy(ch);
  if (timed_out) return Status::DeadlineExceeded(ctx + ": timed out");
  switch (q.status) {
    case ARES_SUCCESS:
      if (q.out.empty()) return Status::NotFound(ctx + ": no address");
      // IPv6 first only if the host has nothing else to prefer: keep c-ares' order (RFC 6724 sorted).
      return q.out;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME: return Status::NotFound(ctx + ": " + ares_strerror(q.status));
    case ARES_ETIMEOUT: return Status::Unavailable(ctx + ": no answer from the DNS server");
    default: return Status::Unavailable(ctx + ": " + ares_strerror(q.status));
  }
}

}  // namespace mailstack::net
