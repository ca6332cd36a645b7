// The protocol probes against scripted peers: every dialog's happy path with
// the exact commands the server received, each failure reason, and each
// hostile peer (silent, dripping, flooding, garbage, closing mid-handshake,
// plaintext on a TLS port, STARTTLS injection) ending by its deadline.
// The real daemons are in tests/integration/test_probes.py.
#include "collectors/probes/probes_collector.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "collectors/core/logging.h"
#include "collectors/parse/mail_reply.h"
#include "tests/support/fake_server.h"
#include "tests/support/option_errors.h"
#include "tests/support/samples.h"
#include "tests/support/tls_peer.h"

namespace mailstack {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using probe::Protocol;
using probe::Reason;
using probe::Tls;
using testing::FakeServer;
using testing::Peer;
using testing::Pki;
using testing::TestPki;
using Clock = std::chrono::steady_clock;

// OpenSSL writes with plain write(2): a peer that resets must not kill the
// test binary with SIGPIPE (the exporter's main ignores it too).
const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// Lines the fake server received, across connections.
struct Transcript {
  std::mutex mu;
  std::vector<std::string> lines;
  std::string sni;
  void Add(const std::string& l) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(l);
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lock(mu);
    return lines;
  }
};

probe::Target MakeTarget(Protocol p, const std::string& address, Tls tls = Tls::kNone) {
  probe::Target t;
  t.name = "t";
  t.protocol = p;
  t.address = address;
  t.tls = tls;
  t.server_name = "mail.test";
  t.helo_name = "probe.test";
  return t;
}

probe::Result Probe(const probe::Target& t, Clock::duration timeout = 3s, const std::atomic<bool>* stop = nullptr) {
  return probe::Run(t, Deadline::After(timeout), stop);
}

// An SMTP server: optional postscreen-style split greeting, EHLO with the
// given keywords, STARTTLS, QUIT.
FakeServer::Behaviour SmtpServer(Transcript* tr, std::vector<std::string> keywords,
                                 std::vector<std::string> keywords_after_tls = {"PIPELINING", "AUTH PLAIN LOGIN"},
                                 bool split_greeting = false) {
  return [=](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    if (split_greeting) {
      p.Send("220-mail.test ESMTP\r\n");
      std::this_thread::sleep_for(200ms);  // postscreen's pregreet pause: the client must wait
      p.Send("220 mail.test ESMTP\r\n");
    } else {
      p.Send("220 mail.test ESMTP\r\n");
    }
    bool tls = false;
    while (true) {
      std::string l = p.Line();
      if (l.empty()) return;
      tr->Add(l);
      if (l.rfind("EHLO", 0) == 0 || l.rfind("LHLO", 0) == 0) {
        const auto& kw = tls ? keywords_after_tls : keywords;
        std::string reply = kw.empty() ? "250 mail.test\r\n" : "250-mail.test\r\n";
        for (size_t i = 0; i < kw.size(); ++i) reply += (i + 1 == kw.size() ? "250 " : "250-") + kw[i] + "\r\n";
        p.Send(reply);
      } else if (l == "STARTTLS") {
        p.Send("220 2.0.0 Ready to start TLS\r\n");
        if (!p.Accept(&tr->sni)) return;
        tls = true;
      } else if (l == "QUIT") {
        p.Send("221 2.0.0 Bye\r\n");
        return;
      } else {
        p.Send("502 5.5.2 Error: command not recognized\r\n");
      }
    }
  };
}

TEST(ProbeDialogTest, SmtpStartTlsWithPostscreenGreeting) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr, {"PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME"}, {"PIPELINING"},
                                   /*split_greeting=*/true));
  auto r = Probe(MakeTarget(Protocol::kSmtp, server.address(), Tls::kStartTls));
  EXPECT_TRUE(r.success()) << r.detail;
  EXPECT_TRUE(r.tls_done);
  EXPECT_EQ(r.tls_version, "TLSv1.3");
  ASSERT_EQ(r.chain.size(), 1u);
  EXPECT_EQ(X509_cmp(r.chain[0].get(), Pki().cert.get()), 0);
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{"EHLO probe.test", "STARTTLS", "EHLO probe.test", "QUIT"}));
  EXPECT_EQ(tr.sni, "mail.test");
  EXPECT_GE(r.duration_seconds, 0.2);  // waited for the last greeting line
}

TEST(ProbeDialogTest, LmtpSaysLhloAndPlainSmtpSkipsTls) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr, {"PIPELINING", "STARTTLS"}));
  auto r = Probe(MakeTarget(Protocol::kLmtp, server.address()));
  EXPECT_TRUE(r.success()) << r.detail;
  EXPECT_FALSE(r.tls_done);
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{"LHLO probe.test", "QUIT"}));
}

TEST(ProbeDialogTest, SubmissionWantsAuthOnlyAfterTls) {
  {
    Transcript tr;
    FakeServer server("", SmtpServer(&tr, {"STARTTLS"}, {"AUTH PLAIN LOGIN"}));
    auto r = Probe(MakeTarget(Protocol::kSubmission, server.address(), Tls::kStartTls));
    EXPECT_TRUE(r.success()) << r.detail;
  }
  {
    Transcript tr;
    FakeServer server("", SmtpServer(&tr, {"STARTTLS", "AUTH PLAIN LOGIN"}, {"AUTH PLAIN LOGIN"}));
    auto r = Probe(MakeTarget(Protocol::kSubmission, server.address(), Tls::kStartTls));
    EXPECT_EQ(r.reason, Reason::kProtocol);
    EXPECT_EQ(r.detail, "AUTH is offered before STARTTLS (passwords could travel in clear)");
    EXPECT_EQ(tr.Get(), (std::vector<std::string>{"EHLO probe.test"}));  // never sent STARTTLS
  }
  {
    Transcript tr;
    FakeServer server("", SmtpServer(&tr, {"STARTTLS"}, {"PIPELINING"}));
    auto r = Probe(MakeTarget(Protocol::kSubmission, server.address(), Tls::kStartTls));
    EXPECT_EQ(r.reason, Reason::kProtocol);
    EXPECT_EQ(r.detail, "AUTH is not offered on the submission port");
    EXPECT_TRUE(r.tls_done);  // the certificate was seen all the same
  }
}

TEST(ProbeDialogTest, StartTlsNotOfferedIsATlsFailure) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr, {"PIPELINING", "SIZE 1000"}));
  auto r = Probe(MakeTarget(Protocol::kSmtp, server.address(), Tls::kStartTls));
  EXPECT_EQ(r.reason, Reason::kTls);
  EXPECT_EQ(r.detail, "STARTTLS is not offered in the EHLO reply");
}

TEST(ProbeDialogTest, RefusalsAreRejected) {
  for (const std::string greeting : {"554 5.7.1 go away\r\n", "421-4.3.2 busy\r\n421 4.3.2 try later\r\n"}) {
    FakeServer server("", [&](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, greeting); });
    auto r = Probe(MakeTarget(Protocol::kSmtp, server.address()));
    EXPECT_EQ(r.reason, Reason::kRejected) << greeting;
    EXPECT_EQ(r.detail, "greeting: " + greeting.substr(0, 3) + " " + greeting.substr(4, greeting.find('\r') - 4))
        << greeting;
  }
}

TEST(ProbeDialogTest, ConnectionRefused) {
  std::string address;
  {
    FakeServer server("", [](int, const std::atomic<bool>&) {});
    address = server.address();
  }  // closed: nobody listens there now
  auto r = Probe(MakeTarget(Protocol::kSmtp, address));
  EXPECT_EQ(r.reason, Reason::kConnect);
  EXPECT_EQ(r.detail, "connect " + address + ": Connection refused");
}

// A milter (or any unix socket peer) that no longer accepts: once its listen
// backlog is full, connect() says EAGAIN. That is a connect failure, not a
// socket that looks connected and fails on the first write.
TEST(ProbeDialogTest, UnixSocketWithAFullBacklogIsAConnectFailure) {
  const std::string path = ::testing::TempDir() + "/milter" + std::to_string(::getpid());
  ::unlink(path.c_str());
  int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::snprintf(un.sun_path, sizeof un.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
  ASSERT_EQ(::listen(ls, 0), 0);  // never accepts
  std::vector<int> fillers;
  for (int i = 0; i < 16; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    fillers.push_back(fd);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0 && errno == EAGAIN) break;
  }
  auto r = Probe(MakeTarget(Protocol::kMilter, path), 1s);
  EXPECT_EQ(r.reason, Reason::kConnect);
  EXPECT_EQ(r.detail, "connect " + path + ": the listen backlog is full (EAGAIN)");
  for (int fd : fillers) ::close(fd);
  ::close(ls);
  ::unlink(path.c_str());
}

// Hostile peers: each ends by the deadline (or sooner) with the right reason.
struct Hostile {
  const char* name;
  Tls tls;
  Reason want;
  FakeServer::Behaviour behaviour;
  const char* detail_prefix;
};

std::vector<Hostile> HostileCases() {
  return {
      {"never_speaks", Tls::kNone, Reason::kTimeout,
       [](int, const std::atomic<bool>& stop) {
         while (!stop) std::this_thread::sleep_for(10ms);
       },
       "greeting: read: timed out"},
      {"drips_a_byte_a_second", Tls::kNone, Reason::kTimeout,
       [](int fd, const std::atomic<bool>& stop) {
         for (char c : "220 mail.test ESMTP\r\n"s) {
           if (stop || !FakeServer::WriteAll(fd, std::string(1, c))) return;
           std::this_thread::sleep_for(1s);
         }
       },
       "greeting: read: timed out"},
      {"floods_220_dash", Tls::kNone, Reason::kProtocol,
       [](int fd, const std::atomic<bool>& stop) {
         while (!stop && FakeServer::WriteAll(fd, "220-more\r\n220-more\r\n220-more\r\n220-more\r\n")) {
         }
       },
       "greeting: SMTP reply longer than 100 lines"},
      {"random_bytes", Tls::kNone, Reason::kProtocol,
       [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, FakeServer::Junk(3000)); }, "greeting: "},
      {"endless_line", Tls::kNone, Reason::kProtocol,
       [](int fd, const std::atomic<bool>& stop) {
         while (!stop && FakeServer::WriteAll(fd, std::string(4096, 'x'))) {
         }
       },
       "greeting: read: line longer than 2048 bytes"},
      {"closes_after_greeting", Tls::kNone, Reason::kProtocol,
       [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, "220-mail.test\r\n"); },
       "greeting: read: peer closed the connection"},
      {"closes_mid_handshake", Tls::kImplicit, Reason::kTls,
       [](int fd, const std::atomic<bool>&) {
         char buf[64];
         (void)::recv(fd, buf, sizeof buf, 0);  // part of the ClientHello, then hang up
       },
       "implicit TLS: TLS handshake: "},
      {"plaintext_on_tls_port", Tls::kImplicit, Reason::kTls,
       [](int fd, const std::atomic<bool>&) {
         FakeServer::WriteAll(fd, "220 mail.test ESMTP\r\n");
         std::this_thread::sleep_for(500ms);
       },
       "implicit TLS: TLS handshake: error:0A00010B:SSL routines::wrong version number"},
      {"starttls_injection", Tls::kStartTls, Reason::kTls,
       [](int fd, const std::atomic<bool>&) {
         Peer p(fd);
         p.Send("220 mail.test ESMTP\r\n");
         p.Line();
         p.Send("250-mail.test\r\n250 STARTTLS\r\n");
         p.Line();
         p.Send("220 go ahead\r\n250 injected\r\n");  // bytes after the 220 would be read as if under TLS
         std::this_thread::sleep_for(500ms);
       },
       "after STARTTLS: TLS: the server sent data before the handshake (possible STARTTLS injection)"},
  };
}

// Each hostile peer is its own test (ProbeDialog/HostilePeerTest.EndsByTheDeadline/<name>).
class HostilePeerTest : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostilePeerTest, EndsByTheDeadline) {
  const Hostile& h = GetParam();
  FakeServer server("", h.behaviour);
  const auto start = Clock::now();
  auto r = Probe(MakeTarget(Protocol::kSmtp, server.address(), h.tls), 1500ms);
  const auto took = Clock::now() - start;
  EXPECT_EQ(probe::ReasonName(r.reason), probe::ReasonName(h.want)) << r.detail;
  EXPECT_EQ(r.detail.rfind(h.detail_prefix, 0), 0u) << r.detail;
  // Ends by the deadline: a probe that waited per read, or for the peer to
  // give up, would take 20 s or forever; the second of slack is for a loaded
  // machine, not for the code.
  EXPECT_LT(took, 1500ms + 1s);
  EXPECT_GT(r.duration_seconds, 0);
  EXPECT_LE(r.duration_seconds, std::chrono::duration<double>(took).count());
}

INSTANTIATE_TEST_SUITE_P(ProbeDialog, HostilePeerTest, ::testing::ValuesIn(HostileCases()),
                         [](const ::testing::TestParamInfo<Hostile>& info) { return std::string(info.param.name); });

TEST(ProbeDialogTest, StopEndsAProbeEarly) {
  FakeServer server("", [](int, const std::atomic<bool>& stop) {
    while (!stop) std::this_thread::sleep_for(10ms);
  });
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop = true;
  });
  const auto start = Clock::now();
  auto r = Probe(MakeTarget(Protocol::kSmtp, server.address()), 30s, &stop);
  stopper.join();
  EXPECT_EQ(r.reason, Reason::kTimeout);
  EXPECT_EQ(r.detail, "greeting: read: stopped");
  EXPECT_LT(Clock::now() - start, 5s);  // stopped after 200 ms; without the stop it would take 30 s
}

TEST(ProbeDialogTest, ImapStartTls) {
  Transcript tr;
  FakeServer server("", [&](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    p.Send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n");
    bool tls = false;
    while (true) {
      std::string l = p.Line();
      if (l.empty()) return;
      tr.Add(l);
      std::string tag = l.substr(0, l.find(' '));
      if (l.find("CAPABILITY") != std::string::npos) {
        p.Send(tls ? "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" : "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n");
        p.Send(tag + " OK Pre-login capabilities listed, post-login capabilities have more.\r\n");
      } else if (l.find("STARTTLS") != std::string::npos) {
        p.Send(tag + " OK Begin TLS negotiation now.\r\n");
        if (!p.Accept()) return;
        tls = true;
      } else if (l.find("LOGOUT") != std::string::npos) {
        p.Send("* BYE Logging out\r\n" + tag + " OK Logout completed.\r\n");
        return;
      }
    }
  });
  auto r = Probe(MakeTarget(Protocol::kImap, server.address(), Tls::kStartTls));
  EXPECT_TRUE(r.success()) << r.detail;
  EXPECT_TRUE(r.tls_done);
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{"m1 CAPABILITY", "m2 STARTTLS", "m3 CAPABILITY", "m4 LOGOUT"}));
}

TEST(ProbeDialogTest, ImapByeAndBadAreRejected) {
  {
    FakeServer server(
        "", [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, "* BYE Too many connections\r\n"); });
    auto r = Probe(MakeTarget(Protocol::kImap, server.address()));
    EXPECT_EQ(r.reason, Reason::kRejected);
    EXPECT_EQ(r.detail, "greeting: * BYE Too many connections");
  }
  {
    FakeServer server("", [](int fd, const std::atomic<bool>&) {
      Peer p(fd);
      p.Send("* OK ready\r\n");
      p.Line();
      p.Send("m1 BAD unknown command\r\n");
    });
    auto r = Probe(MakeTarget(Protocol::kImap, server.address()));
    EXPECT_EQ(r.reason, Reason::kRejected);
    EXPECT_EQ(r.detail, "CAPABILITY: BAD unknown command");
  }
}

TEST(ProbeDialogTest, Pop3Stls) {
  Transcript tr;
  FakeServer server("", [&](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    p.Send("+OK Dovecot ready.\r\n");
    bool tls = false;
    while (true) {
      std::string l = p.Line();
      if (l.empty()) return;
      tr.Add(l);
      if (l == "CAPA") {
        p.Send(tls ? "+OK\r\nTOP\r\nUIDL\r\nSASL PLAIN\r\n.\r\n" : "+OK\r\nTOP\r\nSTLS\r\nUIDL\r\n.\r\n");
      } else if (l == "STLS") {
        p.Send("+OK Begin TLS negotiation\r\n");
        if (!p.Accept()) return;
        tls = true;
      } else if (l == "QUIT") {
        p.Send("+OK Logging out\r\n");
        return;
      }
    }
  });
  auto r = Probe(MakeTarget(Protocol::kPop3, server.address(), Tls::kStartTls));
  EXPECT_TRUE(r.success()) << r.detail;
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{"CAPA", "STLS", "CAPA", "QUIT"}));

  FakeServer refuses("",
                     [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, "-ERR [SYS/TEMP] busy\r\n"); });
  r = Probe(MakeTarget(Protocol::kPop3, refuses.address()));
  EXPECT_EQ(r.reason, Reason::kRejected);
  EXPECT_EQ(r.detail, "greeting: -ERR [SYS/TEMP] busy");
}

TEST(ProbeDialogTest, ManageSieveStartTlsReadsCapabilitiesAgain) {
  Transcript tr;
  const std::string caps =
      "\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"\r\n\"SIEVE\" \"fileinto reject\"\r\n"
      "\"SASL\" \"PLAIN LOGIN\"\r\n";
  FakeServer server("", [&](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    p.Send(caps + "\"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\nOK \"Dovecot (Debian) ready.\"\r\n");
    while (true) {
      std::string l = p.Line();
      if (l.empty()) return;
      tr.Add(l);
      if (l == "STARTTLS") {
        p.Send("OK \"Begin TLS negotiation now.\"\r\n");
        if (!p.Accept()) return;
        p.Send(caps + "\"VERSION\" \"1.0\"\r\nOK \"TLS negotiation successful.\"\r\n");
      } else if (l == "LOGOUT") {
        p.Send("OK \"Logout completed.\"\r\n");
        return;
      }
    }
  });
  auto r = Probe(MakeTarget(Protocol::kSieve, server.address(), Tls::kStartTls));
  EXPECT_TRUE(r.success()) << r.detail;
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{"STARTTLS", "LOGOUT"}));

  FakeServer refuses("", [](int fd, const std::atomic<bool>&) {
    FakeServer::WriteAll(fd, "\"IMPLEMENTATION\" \"x\"\r\nNO \"Service unavailable\"\r\n");
  });
  r = Probe(MakeTarget(Protocol::kSieve, refuses.address()));
  EXPECT_EQ(r.reason, Reason::kRejected);
  EXPECT_EQ(r.detail, "greeting: NO \"Service unavailable\"");
}

TEST(ProbeDialogTest, MilterOptionNegotiation) {
  std::string request;
  std::mutex mu;
  auto reply = [](std::string packet) {
    return [packet](int fd, const std::atomic<bool>&) {
      Peer p(fd);
      p.Bytes(17);
      FakeServer::WriteAll(fd, packet);
      std::this_thread::sleep_for(100ms);
    };
  };
  FakeServer good("", [&](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    std::string got = p.Bytes(17);
    {
      std::lock_guard<std::mutex> lock(mu);
      request = got;
    }
    // OpenDKIM's answer: version 6, actions, protocol flags.
    FakeServer::WriteAll(fd, "\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\x1f\xff\xff"s);
    p.Bytes(5);  // the quit
  });
  auto r = Probe(MakeTarget(Protocol::kMilter, good.address()));
  EXPECT_TRUE(r.success()) << r.detail;
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(request, "\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\x1f\xff\xff"s);
  }
  FakeServer huge("", reply("\xff\xff\xff\xff"s));
  r = Probe(MakeTarget(Protocol::kMilter, huge.address()));
  EXPECT_EQ(r.reason, Reason::kProtocol);
  EXPECT_EQ(r.detail, "milter packet length 4294967295 out of range 1..65536");
  FakeServer wrong("", reply("\0\0\0\x01t"s));
  r = Probe(MakeTarget(Protocol::kMilter, wrong.address()));
  EXPECT_EQ(r.reason, Reason::kProtocol);
  EXPECT_EQ(r.detail, "milter: expected option negotiation 'O', got command t");
}

TEST(ProbeDialogTest, Ipv6Literal) {
  int ls = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(ls, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  std::thread server([&] {
    int fd = ::accept(ls, nullptr, nullptr);
    Peer p(fd);
    p.Send("220 v6 ESMTP\r\n");
    p.Line();
    p.Send("250 v6\r\n");
    p.Line();
    p.Send("221 bye\r\n");
    ::close(fd);
  });
  auto r = Probe(MakeTarget(Protocol::kSmtp, "[::1]:" + std::to_string(ntohs(a.sin6_port))));
  server.join();
  ::close(ls);
  EXPECT_TRUE(r.success()) << r.detail;
}

// A host name goes through c-ares with the configured resolver: a DNS server
// that refuses or never answers is reason "resolve", by the deadline.
TEST(ProbeDialogTest, HostNameWithBrokenResolvers) {
  testing::SilentUdpServer silent;
  auto t = MakeTarget(Protocol::kSmtp, "mail.example.test:25");
  t.resolver = silent.address();
  const auto start = Clock::now();
  auto r = Probe(t, 1s);
  EXPECT_LT(Clock::now() - start, 1s + 1s);  // c-ares alone would retry for seconds
  EXPECT_EQ(r.reason, Reason::kResolve);
  EXPECT_EQ(r.detail.rfind("resolve mail.example.test: ", 0), 0u) << r.detail;
  silent.Close();  // now nobody listens on that port: refused
  r = Probe(t, 1s);
  EXPECT_EQ(r.reason, Reason::kResolve);
  EXPECT_EQ(r.detail.rfind("resolve mail.example.test: ", 0), 0u) << r.detail;
}

// ---- the collector: options, metrics, concurrency

TEST(ProbesCollectorTest, OptionErrors) {
  testing::ExpectOptionErrors<ProbesCollector>({
      {"targets: []", "t.yml:1:10: targets: must list at least one target"},
      {"targets:\n  - {name: a, protocol: smtp, address: '127.0.0.1:25', tls: yes}",
       "t.yml:2:61: targets[0].tls: must be one of none, starttls, implicit (got \"yes\")"},
      {"targets:\n  - {name: a, protocol: smtps, address: '127.0.0.1:25'}",
       "t.yml:2:25: targets[0].protocol: must be one of smtp, submission, lmtp, imap, pop3, sieve, milter, tcp "
       "(got \"smtps\")"},
      {"targets:\n  - {name: a, protocol: smtp, address: '127.0.0.1'}",
       "t.yml:2:40: targets[0].address: want an absolute socket path or HOST:PORT (got \"127.0.0.1\")"},
      {"targets:\n  - {name: a, protocol: smtp, address: '127.0.0.1:99999'}",
       "t.yml:2:40: targets[0].address: bad port \"99999\" (got \"127.0.0.1:99999\")"},
      {"targets:\n  - {name: a, protocol: milter, address: '127.0.0.1:8891', tls: starttls}",
       "t.yml:2:65: targets[0].tls: starttls needs a protocol that has it (smtp, submission, lmtp, imap, pop3, "
       "sieve)"},
      {"targets:\n  - {name: a, protocol: milter, address: '127.0.0.1:8891', tls: implicit}",
       "t.yml:2:65: targets[0].tls: the milter protocol has no TLS"},
      {"targets:\n  - {name: a, protocol: smtp, address: '127.0.0.1:25', cert_file: /x.pem}",
       "t.yml:2:67: targets[0].cert_file: only applies with tls: starttls or implicit"},
      {"targets:\n  - {name: a, protocol: smtp, address: '127.0.0.1:25', tls: starttls, ca_file: ca.pem}",
       "t.yml:2:80: targets[0].ca_file: must be an absolute path (got \"ca.pem\")"},
      {"targets:\n  - {name: a, protocol: smtp, address: '127.0.0.1:25'}\n  - {name: a, protocol: imap, "
       "address: '127.0.0.1:143'}",
       "t.yml:3:12: targets[1].name: duplicate target name \"a\""},
      {"targets:\n  - {name: a, protocol: smtp, address: '127.0.0.1:25', port: 25}",
       "t.yml:2:56: targets[0].port: unknown key (allowed: name, protocol, address, tls, server_name, ca_file, "
       "cert_file)"},
      {"targets:\n  - {protocol: smtp, address: '127.0.0.1:25'}", "t.yml:2:5: targets[0].name: missing required key"},
      {"targets:\n  - {name: a, protocol: smtp, address: 'mail..example.com:25'}",
       "t.yml:2:40: targets[0].address: host must be an IP address or a host name (got \"mail..example.com\")"},
      {"resolver: dns.example.com:53\ntargets:\n  - {name: a, protocol: tcp, address: '127.0.0.1:25'}",
       "t.yml:1:11: resolver: must be IP:PORT of a DNS server (got \"dns.example.com:53\")"},
      {"helo_name: 'a b'\ntargets:\n  - {name: a, protocol: tcp, address: '127.0.0.1:25'}",
       "t.yml:1:12: helo_name: must be a host name (got \"a b\")"},
  });
  auto root = ParseYaml(
      "helo_name: probe.example.com\nresolver: '127.0.0.1:5353'\ntargets:\n  - {name: smtp, protocol: smtp, "
      "address: '[::1]:25', tls: starttls, server_name: mail.example.com, ca_file: /ca.pem, cert_file: "
      "/fullchain.pem}\n  - {name: imap, protocol: imap, address: 'mail.example.com:143'}\n",
      "t.yml");
  auto o = ProbesCollector::ParseOptions(*root);
  ASSERT_TRUE(o.ok()) << o.status().message();
  ASSERT_EQ(o->targets.size(), 2u);
  EXPECT_EQ(o->targets[1].target.address, "mail.example.com:143");
  EXPECT_EQ(o->targets[1].target.resolver, "127.0.0.1:5353");
  EXPECT_EQ(o->targets[0].target.address, "[::1]:25");
  EXPECT_EQ(o->targets[0].target.tls, Tls::kStartTls);
  EXPECT_EQ(o->targets[0].target.helo_name, "probe.example.com");
  EXPECT_EQ(o->targets[0].cert_file, "/fullchain.pem");
}

using Samples = testing::FamilySamples;
// `work_deadline`, if given, gets a time at or before the probes' deadline.
Samples Collect(ProbesCollector& c, Clock::duration timeout = 3s, Status* status = nullptr,
                Clock::time_point* work_deadline = nullptr) {
  std::atomic<bool> stop{false};
  CollectContext ctx{Deadline::After(timeout), &stop};
  if (work_deadline != nullptr) *work_deadline = ctx.WorkDeadline().at();  // the collector's own is later
  MetricSink sink(c.Describe());
  Status s = c.Collect(ctx, sink);
  if (status) *status = s;
  EXPECT_TRUE(s.ok()) << s.message();
  return testing::SamplesByFamily(testing::TakeChecked(sink));
}

std::string WriteFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name + std::to_string(::getpid());
  std::ofstream(path) << content;
  return path;
}

TEST(ProbesCollectorTest, MetricsOfGoodAndBadTargetsAndServedVersusFile) {
  Transcript tr;
  FakeServer smtp("", SmtpServer(&tr, {"STARTTLS"}));
  std::string dead;
  {
    FakeServer gone("", [](int, const std::atomic<bool>&) {});
    dead = gone.address();
  }
  const std::string ca = WriteFile("ca", Pki().pem);
  const std::string same = WriteFile("same", Pki().pem);
  ProbesCollector::Options o;
  auto add = [&](const std::string& name, const std::string& address, Tls tls, const std::string& server_name,
                 const std::string& cert_file) {
    ProbesCollector::TargetOptions t{MakeTarget(Protocol::kSmtp, address, tls), ca, cert_file};
    t.target.name = name;
    t.target.server_name = server_name;
    o.targets.push_back(t);
  };
  add("good", smtp.address(), Tls::kStartTls, "mail.test", same);
  add("wrong_name", smtp.address(), Tls::kStartTls, "other.test", "");
  add("missing_file", smtp.address(), Tls::kStartTls, "mail.test", "/nonexistent/cert.pem");
  add("down", dead, Tls::kNone, "", "");
  ProbesCollector c(o);
  const auto from = static_cast<int64_t>(UnixTime());  // the collector reads its clock in between
  auto s = Collect(c);
  const auto to = static_cast<int64_t>(UnixTime());
  EXPECT_EQ(s["mailstack_probe_success"]["target=good,protocol=smtp"], 1);
  EXPECT_EQ(s["mailstack_probe_success"]["target=down,protocol=smtp"], 0);
  for (const char* reason : {"resolve", "connect", "timeout", "tls", "protocol", "rejected"}) {
    EXPECT_EQ(s["mailstack_probe_failure"][std::string("target=good,protocol=smtp,reason=") + reason], 0) << reason;
    EXPECT_EQ(s["mailstack_probe_failure"][std::string("target=down,protocol=smtp,reason=") + reason],
              std::string(reason) == "connect" ? 1 : 0)
        << reason;
  }
  EXPECT_EQ(s["mailstack_probe_tls_version_info"]["target=good,protocol=smtp,version=TLSv1.3"], 1);
  EXPECT_EQ(s["mailstack_probe_tls_version_info"].count("target=down,protocol=smtp,version=TLSv1.3"), 0u);
  const std::string good = "source=probe,name=good,index=0";
  EXPECT_EQ(s["mailstack_tls_certificate_valid"][good], 1);
  EXPECT_EQ(s["mailstack_tls_certificate_valid"]["source=probe,name=wrong_name,index=0"], 0);
  const double not_after = s["mailstack_tls_certificate_not_after_timestamp_seconds"][good];
  const double not_before = s["mailstack_tls_certificate_not_before_timestamp_seconds"][good];
  EXPECT_EQ(not_after - not_before, 86400 + 3600);
  EXPECT_GE(s["mailstack_tls_certificate_expiry_seconds"][good], not_after - to);
  EXPECT_LE(s["mailstack_tls_certificate_expiry_seconds"][good], not_after - from);
  EXPECT_EQ(s["mailstack_tls_served_matches_file"]["target=good"], 1);
  EXPECT_EQ(s["mailstack_probe_cert_file_error"]["target=good"], 0);
  EXPECT_EQ(s["mailstack_probe_cert_file_error"]["target=missing_file"], 1);
  EXPECT_EQ(s["mailstack_tls_served_matches_file"].count("target=missing_file"), 0u);

  // Renewed on disk (another certificate in the file), daemon not reloaded: 0.
  {
    TestPki other;
    std::ofstream(same) << other.pem;
  }
  s = Collect(c);
  EXPECT_EQ(s["mailstack_tls_served_matches_file"]["target=good"], 0);
  std::remove(ca.c_str());
  std::remove(same.c_str());
}

// A cert_file that is a FIFO (or any non-regular file) is an error, not a
// read that blocks the run; a missing ca_file makes the certificate
// unverifiable (valid 0) for that target only.
TEST(ProbesCollectorTest, FifoCertFileAndMissingCaFileAreTheTargetsProblem) {
  Transcript tr;
  FakeServer smtp("", SmtpServer(&tr, {"STARTTLS"}));
  const std::string fifo = ::testing::TempDir() + "/fifo" + std::to_string(::getpid());
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ProbesCollector::Options o;
  ProbesCollector::TargetOptions t{MakeTarget(Protocol::kSmtp, smtp.address(), Tls::kStartTls), "/nonexistent/ca.pem",
                                   fifo};
  o.targets.push_back(t);
  ProbesCollector c(o);
  const auto start = Clock::now();
  auto s = Collect(c);
  EXPECT_LT(Clock::now() - start, 3s + 1s);  // opening the FIFO for reading would block for good
  EXPECT_EQ(s["mailstack_probe_success"]["target=t,protocol=smtp"], 1);
  EXPECT_EQ(s["mailstack_probe_cert_file_error"]["target=t"], 1);
  EXPECT_EQ(s["mailstack_tls_certificate_valid"]["source=probe,name=t,index=0"], 0);
  ::unlink(fifo.c_str());
}

TEST(ProbesCollectorTest, TargetsRunConcurrentlyAndASilentOneDoesNotFailTheRun) {
  // 14 targets that answer after 300 ms and one that never does: the run
  // takes about the slowest target's time, not the sum (15 x 300 ms).
  FakeServer slow("", [](int fd, const std::atomic<bool>&) {
    std::this_thread::sleep_for(300ms);
    Peer p(fd);
    p.Send("220 slow ESMTP\r\n");
    while (true) {
      std::string l = p.Line();
      if (l.empty()) return;
      p.Send(l == "QUIT" ? "221 bye\r\n" : "250 ok\r\n");
    }
  });
  std::atomic<Clock::rep> silent_accepted{0};  // after the silent target's probe began
  FakeServer silent("", [&](int, const std::atomic<bool>& stop) {
    silent_accepted = Clock::now().time_since_epoch().count();
    while (!stop) std::this_thread::sleep_for(10ms);
  });
  ProbesCollector::Options o;
  for (int i = 0; i < 15; ++i) {
    ProbesCollector::TargetOptions t{MakeTarget(Protocol::kSmtp, i == 14 ? silent.address() : slow.address()), "", ""};
    t.target.name = "t" + std::to_string(i);
    o.targets.push_back(t);
  }
  ProbesCollector c(o);
  const auto start = Clock::now();
  Clock::time_point work_deadline;
  auto s = Collect(c, 2s, nullptr, &work_deadline);
  const auto took = Clock::now() - start;
  // One after the other the 14 answering targets alone would need 4.2 s of the
  // 2 s: each succeeding says they ran at once.
  for (int i = 0; i < 14; ++i) {
    EXPECT_EQ(s["mailstack_probe_success"]["target=t" + std::to_string(i) + ",protocol=smtp"], 1) << i;
  }
  // The silent one timed out at the probes' deadline (the run's minus a
  // margin), which the run waited for; the upper bound only catches a hang.
  EXPECT_EQ(s["mailstack_probe_failure"]["target=t14,protocol=smtp,reason=timeout"], 1);
  EXPECT_GE(took, work_deadline - start);
  EXPECT_LT(took, 2s + 1s);
  const double d14 = s["mailstack_probe_duration_seconds"]["target=t14,protocol=smtp"];
  ASSERT_NE(silent_accepted.load(), 0);
  const auto accepted = Clock::time_point(Clock::duration(silent_accepted.load()));
  EXPECT_GE(d14, std::chrono::duration<double>(work_deadline - accepted).count());
  EXPECT_LE(d14, std::chrono::duration<double>(took).count());
}

// A fault is logged once per kind: a server that keeps rejecting with a
// counter in its reply (as "421 too many connections from ... (5)" does) is
// one problem however its text changes; its end is logged once.
TEST(ProbesCollectorTest, AProblemIsLoggedOncePerReasonWhateverThePeerSays) {
  std::atomic<int> connections{0};
  std::atomic<bool> healthy{false};
  Transcript tr;
  const FakeServer::Behaviour ok = SmtpServer(&tr, {});
  FakeServer smtp("", [&](int fd, const std::atomic<bool>& stop) {
    if (healthy) return ok(fd, stop);
    Peer p(fd);
    p.Send("554 5.7.0 busy (connection " + std::to_string(++connections) + ")\r\n");
  });
  ProbesCollector::Options o;
  ProbesCollector::TargetOptions t{MakeTarget(Protocol::kSmtp, smtp.address()), "", ""};
  t.target.name = "t";
  o.targets.push_back(t);
  ProbesCollector c(o);
  std::mutex mu;
  std::vector<std::string> lines;
  SetLogSinkForTest([&](std::string_view l) {
    std::lock_guard<std::mutex> lock(mu);
    if (l.find("probe=t") != std::string_view::npos) lines.emplace_back(l);
  });
  for (int i = 0; i < 3; ++i) {
    auto s = Collect(c);
    EXPECT_EQ(s["mailstack_probe_failure"]["target=t,protocol=smtp,reason=rejected"], 1) << i;
  }
  healthy = true;
  auto s = Collect(c);
  SetLogSinkForTest(nullptr);
  EXPECT_EQ(s["mailstack_probe_success"]["target=t,protocol=smtp"], 1);
  EXPECT_EQ(connections.load(), 3);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(lines.size(), 2u) << ::testing::PrintToString(lines);
  EXPECT_NE(lines[0].find("msg=\"probe problem\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("reason rejected: "), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("(connection 1)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("msg=recovered"), std::string::npos) << lines[1];
}

// ---- reply parsers

TEST(MailReplyTest, SmtpReplies) {
  mail::SmtpReplyParser p;
  EXPECT_EQ(*p.Feed("250-mail.example.com Hello"), false);
  EXPECT_EQ(*p.Feed("250-PIPELINING"), false);
  EXPECT_EQ(*p.Feed("250-auth plain login"), false);
  EXPECT_EQ(*p.Feed("250 STARTTLS"), true);
  EXPECT_EQ(p.reply().code, 250);
  EXPECT_EQ(p.reply().Keywords(), (std::set<std::string>{"PIPELINING", "AUTH", "STARTTLS"}));
  mail::SmtpReplyParser bare;
  EXPECT_EQ(*bare.Feed("220"), true);
  for (const char* bad : {"", "22", "abc", "220x", "199 too low", "600 too high", "2a0 x"}) {
    mail::SmtpReplyParser q;
    EXPECT_FALSE(q.Feed(bad).ok()) << bad;
  }
  mail::SmtpReplyParser changed;
  EXPECT_TRUE(changed.Feed("250-a").ok());
  EXPECT_EQ(changed.Feed("251 b").status().message(), "SMTP reply code changed within a multi-line reply: \"251 b\"");
  EXPECT_EQ(mail::SmtpReplyParser().Feed("\x01\x02garbage").status().message(),
            "not an SMTP reply line: \"??garbage\"");
}

TEST(MailReplyTest, ImapPop3SieveLines) {
  auto l = mail::ParseImapLine("* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS] Dovecot ready.");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->tag, "*");
  EXPECT_EQ(l->status, "OK");
  EXPECT_EQ(mail::ImapCapabilities(l->rest), (std::set<std::string>{"IMAP4REV1", "SASL-IR", "STARTTLS"}));
  EXPECT_EQ(mail::ImapCapabilities("IMAP4rev1 starttls"), (std::set<std::string>{"IMAP4REV1", "STARTTLS"}));
  l = mail::ParseImapLine("m1 no [UNAVAILABLE] later");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->tag, "m1");
  EXPECT_EQ(l->status, "NO");
  EXPECT_EQ(l->rest, "[UNAVAILABLE] later");
  EXPECT_FALSE(mail::ParseImapLine("").ok());
  EXPECT_FALSE(mail::ParseImapLine("*").ok());
  EXPECT_FALSE(mail::ParseImapLine("a\"b OK").ok());
  EXPECT_EQ(*mail::ParsePop3Status("+OK ready"), 1);
  EXPECT_EQ(*mail::ParsePop3Status("-ERR no"), -1);
  EXPECT_FALSE(mail::ParsePop3Status("OK").ok());
  auto s = mail::ParseSieveLine("\"SIEVE\" \"fileinto \\\"x\\\" reject\"");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, mail::SieveLine::kCapability);
  EXPECT_EQ(s->name, "SIEVE");
  EXPECT_EQ(s->value, "fileinto \"x\" reject");
  EXPECT_EQ(mail::ParseSieveLine("\"starttls\"")->name, "STARTTLS");
  EXPECT_EQ(mail::ParseSieveLine("ok \"ready\"")->kind, mail::SieveLine::kOk);
  EXPECT_EQ(mail::ParseSieveLine("BYE \"gone\"")->kind, mail::SieveLine::kBye);
  for (const char* bad : {"\"open", "\"a\" \"b\" \"c\"", "\"a\" b", "HELLO", ""}) {
    EXPECT_FALSE(mail::ParseSieveLine(bad).ok()) << bad;
  }
}

TEST(MailReplyTest, MilterPackets) {
  EXPECT_EQ(*mail::ParseMilterLength("\0\0\0\x0d"s), 13u);
  EXPECT_FALSE(mail::ParseMilterLength("\0\0\0\0"s).ok());
  EXPECT_FALSE(mail::ParseMilterLength("\0\x01\0\x01"s).ok());
  auto o = mail::ParseMilterOptneg("O\0\0\0\x06\0\0\x01\xff\0\x1f\xff\xff"s);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->version, 6u);
  EXPECT_EQ(o->actions, 0x1ffu);
  EXPECT_EQ(o->protocol, 0x1fffffu);
  EXPECT_EQ(mail::ParseMilterOptneg("O\0\0\0\x06"s).status().message(),
            "milter: option negotiation shorter than 13 bytes");
  EXPECT_EQ(mail::ParseMilterOptneg("O\0\0\0\x09\0\0\0\0\0\0\0\0"s).status().message(),
            "milter: unsupported protocol version 9");
  EXPECT_EQ(mail::MilterQuitRequest(), "\0\0\0\x01Q"s);
}

}  // namespace
}  // namespace mailstack
