#include "tests/support/fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace mailstack::testing {

FakeServer::FakeServer(const std::string& path, Behaviour behaviour) : path_(path), behaviour_(std::move(behaviour)) {
  if (!path.empty()) {
    ::unlink(path.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) throw std::runtime_error("bind unix");
    address_ = path;
  } else {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0) throw std::runtime_error("bind tcp");
    socklen_t len = sizeof in;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&in), &len);
    address_ = "127.0.0.1:" + std::to_string(ntohs(in.sin_port));
  }
  ::listen(listen_fd_, 16);
  thread_ = std::thread(&FakeServer::Loop, this);
}

FakeServer::~FakeServer() {
  stop_ = true;
  thread_.join();
  for (auto& t : conns_) t.join();
  ::close(listen_fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::string FakeServer::Junk(size_t n) {
  std::string s;
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>((x = x * 1103515245 + 12345) >> 16);
  return s;
}

SilentUdpServer::SilentUdpServer() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0) throw std::runtime_error("bind udp");
  socklen_t len = sizeof in;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&in), &len);
  address_ = "127.0.0.1:" + std::to_string(ntohs(in.sin_port));
}

void SilentUdpServer::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool FakeServer::WriteAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void FakeServer::Loop() {
  pollfd p{listen_fd_, POLLIN, 0};
  while (!stop_) {
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    conns_.emplace_back([this, fd] {
      behaviour_(fd, stop_);
      ::close(fd);
    });
  }
}

}  // namespace mailstack::testing
