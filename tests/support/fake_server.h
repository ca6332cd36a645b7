// A scripted stream server for collector tests: listens on a unix socket path
// or 127.0.0.1:0 and runs `behaviour` for each accepted connection on its own
// thread. Hostile behaviours (silence, dripping, floods) live in the tests.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace mailstack::testing {

class FakeServer {
 public:
  // behaviour(fd, stop): write what the test wants; the server closes fd after.
  using Behaviour = std::function<void(int fd, const std::atomic<bool>& stop)>;
  // Unix socket at `path` (removed first), or TCP on 127.0.0.1 when path is empty.
  FakeServer(const std::string& path, Behaviour behaviour);
  ~FakeServer();
  // "path" or "127.0.0.1:PORT"
  const std::string& address() const { return address_; }

  // Helpers for behaviours.
  static bool WriteAll(int fd, const std::string& bytes);
  // `n` pseudo-random bytes, the same every time (garbage for parsers).
  static std::string Junk(size_t n);

 private:
  void Loop();
  int listen_fd_ = -1;
  std::string address_;
  std::string path_;
  Behaviour behaviour_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

// A UDP socket on 127.0.0.1 that receives and never answers: a dead DNS
// server. After Close() nobody listens on the port (queries are refused).
class SilentUdpServer {
 public:
  SilentUdpServer();
  ~SilentUdpServer() { Close(); }
  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  void Close();

 private:
  int fd_ = -1;
  std::string address_;
};

}  // namespace mailstack::testing
