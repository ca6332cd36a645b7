#include "exporter/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "tests/support/http_client.h"

namespace mailstack {
namespace {

using namespace std::chrono_literals;
using testing::HttpRequest;

struct Fixture {
  std::atomic<bool> ready{false};
  std::atomic<bool> fail_metrics{false};
  std::atomic<int> reloads{0};
  std::unique_ptr<HttpServer> server;
  int port = 0;

  explicit Fixture(int max_requests = 40, std::function<std::string()> metrics = nullptr) {
    HttpOptions o;
    o.listen_addresses = {"127.0.0.1:0"};
    o.max_requests = max_requests;
    HttpHandlers h;
    h.metrics = metrics ? metrics : [this]() -> std::string {
      if (fail_metrics) throw std::runtime_error("serializer exploded");
      return "test_metric 1\n";
    };
    h.landing = [] { return std::string("<html>landing</html>"); };
    h.ready = [this] { return ready.load(); };
    h.reload = [this] {
      ++reloads;
      return reloads == 1 ? Status::Ok() : Status::InvalidArgument("c.yml:1:1: boom");
    };
    auto s = HttpServer::Start(o, h);
    if (!s.ok()) throw std::runtime_error(s.status().message());
    server = std::move(s).value();
    port = server->ports().at(0);
  }
};

TEST(HttpServerTest, ServesMetricsWithTheExpositionContentType) {
  Fixture f;
  auto r = HttpRequest(f.port, "GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "test_metric 1\n");
  auto head = HttpRequest(f.port, "HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST(HttpServerTest, PathsMatchExactly) {
  Fixture f;
  for (const char* p : {"/metricsfoo", "/metrics/", "/metrics/x", "/foo", "/-/healthyx", "/-/", "/index.html"}) {
    EXPECT_EQ(HttpRequest(f.port, "GET", p).status, 404) << p;
  }
  auto landing = HttpRequest(f.port, "GET", "/");
  EXPECT_EQ(landing.status, 200);
  EXPECT_EQ(landing.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(landing.body, "<html>landing</html>");
}

TEST(HttpServerTest, HealthReadyAndReload) {
  Fixture f;
  EXPECT_EQ(HttpRequest(f.port, "GET", "/-/healthy").status, 200);
  EXPECT_EQ(HttpRequest(f.port, "GET", "/-/ready").status, 503);
  f.ready = true;
  EXPECT_EQ(HttpRequest(f.port, "GET", "/-/ready").status, 200);
  auto get = HttpRequest(f.port, "GET", "/-/reload");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(f.reloads.load(), 0);
  auto ok = HttpRequest(f.port, "POST", "/-/reload");
  EXPECT_EQ(ok.status, 200);
  auto bad = HttpRequest(f.port, "POST", "/-/reload");
  EXPECT_EQ(bad.status, 500);
  EXPECT_EQ(bad.body, "failed to reload config: c.yml:1:1: boom\n");
  EXPECT_EQ(HttpRequest(f.port, "POST", "/metrics").status, 405);
}

TEST(HttpServerTest, AFailingHandlerAnswers500AndTheServerLives) {
  Fixture f;
  f.fail_metrics = true;
  auto r = HttpRequest(f.port, "GET", "/metrics");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "internal error: serializer exploded\n");
  f.fail_metrics = false;
  EXPECT_EQ(HttpRequest(f.port, "GET", "/metrics").status, 200);
}

TEST(HttpServerTest, ScrapesBeyondMaxRequestsGet503) {
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;
  bool release = false;
  Fixture f(2, [&] {
    std::unique_lock<std::mutex> lock(mu);
    ++entered;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return std::string("slow 1\n");
  });
  std::vector<std::thread> slow;
  std::vector<int> codes(2);
  for (int i = 0; i < 2; ++i) {
    slow.emplace_back([&, i] { codes[i] = HttpRequest(f.port, "GET", "/metrics").status; });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return entered == 2; }));
  }
  auto third = HttpRequest(f.port, "GET", "/metrics");
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.body, "too many concurrent scrapes (--web.max-requests=2)\n");
  EXPECT_EQ(HttpRequest(f.port, "GET", "/-/healthy").status, 200);  // health is not limited
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : slow) t.join();
  EXPECT_EQ(codes[0], 200);
  EXPECT_EQ(codes[1], 200);
  EXPECT_EQ(HttpRequest(f.port, "GET", "/metrics").status, 200);
}

TEST(HttpServerTest, HundredConcurrentScrapesAreServedOrRefused) {
  Fixture f(40, [] {
    std::this_thread::sleep_for(20ms);
    return std::string(20000, '#') + "\n";
  });
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 100; ++i) {
    clients.emplace_back([&] {
      auto r = HttpRequest(f.port, "GET", "/metrics", 20000);
      if (r.status == 200 && r.body.size() == 20001)
        ++ok;
      else if (r.status == 503)
        ++refused;
      else
        ++other;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok + refused, 100);
  EXPECT_GE(ok.load(), 40);
  EXPECT_EQ(HttpRequest(f.port, "GET", "/metrics").status, 200);
}

TEST(HttpServerTest, ListenSpecs) {
  EXPECT_EQ(*CivetListenSpec(":10587"), "10587");
  EXPECT_EQ(*CivetListenSpec("0.0.0.0:10587"), "0.0.0.0:10587");
  EXPECT_EQ(*CivetListenSpec("127.0.0.1:0"), "127.0.0.1:0");
  EXPECT_EQ(*CivetListenSpec("localhost:9"), "127.0.0.1:9");
  EXPECT_EQ(CivetListenSpec("[::1]:10587").status().message(),
            "listen address \"[::1]:10587\": IPv6 is not supported (Debian's civetweb is built without it); "
            "use 0.0.0.0:PORT or :PORT");
  EXPECT_EQ(CivetListenSpec("10587").status().message(), "listen address \"10587\": want HOST:PORT or :PORT");
  EXPECT_EQ(CivetListenSpec(":99999").status().message(), "listen address \":99999\": bad port");
  EXPECT_EQ(CivetListenSpec("mail.example.com:1").status().message(),
            "listen address \"mail.example.com:1\": host must be an IPv4 address, localhost or empty");
}

TEST(HttpServerTest, BusyPortIsAClearError) {
  Fixture f;
  HttpOptions o;
  o.listen_addresses = {"127.0.0.1:" + std::to_string(f.port)};
  HttpHandlers h;
  auto s = HttpServer::Start(o, h);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("cannot listen on 127.0.0.1:" + std::to_string(f.port) + ": ", 0), 0u)
      << s.status().message();
}

}  // namespace
}  // namespace mailstack
