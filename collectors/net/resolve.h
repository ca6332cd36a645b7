// Host name resolution for collectors, with c-ares: bounded by the caller's
// deadline (libc's getaddrinfo has none), one channel per call (a c-ares
// channel is not thread-safe and ares_cancel cancels everything on it).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <string>
#include <vector>

#include "collectors/core/deadline.h"
#include "collectors/core/status.h"

struct ares_channeldata;  // c-ares' channel (ares_channel), without <ares.h> here

namespace mailstack::net {

struct SockAddr {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string ToString() const;  // "192.0.2.1:25" / "[2001:db8::1]:25"
};

// IPv4 and IPv6 addresses of `host` (A and AAAA; /etc/hosts first, then
// DNS) with `port` set. `server` is "IP:PORT" of the DNS server to ask, or
// empty for the system's resolv.conf. Errors: NotFound (no such name / no
// address), DeadlineExceeded, Unavailable (the DNS server failed).
Result<std::vector<SockAddr>> Resolve(const std::string& host, uint16_t port, const std::string& server,
                                      const Deadline& deadline, const std::atomic<bool>* stop = nullptr);

// Initializes c-ares once per process (ares_library_init is not thread-safe).
void EnsureAresInitialized();

// One wait of a c-ares event loop: polls the channel's sockets (at most
// 100 ms, never past `deadline`), then lets c-ares process what is ready or
// has timed out. `channel` is an ares_channel.
void AresWaitOnce(::ares_channeldata* channel, const Deadline& deadline);

// True for IP:PORT / [IPv6]:PORT of a DNS server (no names: the resolver
// cannot be resolved).
bool IsDnsServerAddress(const std::string& address);

// True if `host` looks like a DNS host name (LDH labels, dots, <= 253 bytes).
bool IsHostName(const std::string& host);

}  // namespace mailstack::net
