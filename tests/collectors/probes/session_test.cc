// The protocol sessions of collectors/probes/ against scripted servers: the
// exact bytes each command puts on the wire, what each reply becomes, the
// refusals (credentials without TLS), a server that goes silent (the
// deadline ends the step, nothing hangs) and garbage (a clear error).
// Every wait is bounded: the client by its stream's deadline, the fake
// servers by their 3 s receive timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collectors/net/socket.h"
#include "collectors/net/stream.h"
#include "collectors/probes/imap_session.h"
#include "collectors/probes/smtp_session.h"
#include "tests/support/fake_server.h"
#include "tests/support/tls_peer.h"

namespace mailstack::client {
namespace {

using namespace std::chrono_literals;
using testing::FakeServer;
using testing::Peer;
using Clock = std::chrono::steady_clock;

const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// What the fake server received, across its connection's thread.
class Transcript {
 public:
  void Add(const std::string& s) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(s);
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return items_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> items_;
};

std::unique_ptr<net::Stream> Open(const std::string& address, Clock::duration timeout = 3s) {
  const Deadline deadline = Deadline::After(timeout);
  auto fd = net::Connect(address, deadline);
  EXPECT_TRUE(fd.ok()) << fd.status().message();
  if (!fd.ok()) return nullptr;
  return std::make_unique<net::Stream>(std::move(fd).value(), deadline);
}

// ---- SMTP

// An SMTP server: STARTTLS, then AUTH PLAIN/LOGIN for user "u" with
// password "secret", MAIL/RCPT/DATA (the message as received, raw), QUIT.
// `auth_in_clear` offers AUTH before TLS too.
FakeServer::Behaviour SmtpServer(Transcript* tr, bool auth_in_clear = false) {
  return [=](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    p.Send("220 mail.test ESMTP\r\n");
    bool tls = false;
    while (true) {
      const std::string l = p.Line();
      if (l.empty()) return;
      tr->Add(l);
      if (l.rfind("EHLO ", 0) == 0 || l.rfind("LHLO ", 0) == 0) {
        p.Send(tls || auth_in_clear ? "250-mail.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                                    : "250-mail.test\r\n250 STARTTLS\r\n");
      } else if (l == "STARTTLS") {
        p.Send("220 2.0.0 Ready to start TLS\r\n");
        if (!p.Accept()) return;
        tls = true;
      } else if (l == "AUTH PLAIN " + Base64Encode(std::string("\0u\0secret", 9))) {
        p.Send("235 2.7.0 Authentication successful\r\n");
      } else if (l.rfind("AUTH PLAIN ", 0) == 0) {
        p.Send("535 5.7.8 Error: authentication failed\r\n");
      } else if (l == "AUTH LOGIN") {
        p.Send("334 VXNlcm5hbWU6\r\n");
        const std::string user = p.Line();
        tr->Add(user);
        p.Send("334 UGFzc3dvcmQ6\r\n");
        const std::string password = p.Line();
        tr->Add(password);
        p.Send(user == Base64Encode("u") && password == Base64Encode("secret") ? "235 2.7.0 ok\r\n"
                                                                               : "535 5.7.8 no\r\n");
      } else if (l.rfind("MAIL FROM:", 0) == 0 || l.rfind("RCPT TO:", 0) == 0) {
        p.Send(l.find("nobody@") != std::string::npos ? "550 5.1.1 no such user\r\n" : "250 2.1.0 Ok\r\n");
      } else if (l == "DATA") {
        p.Send("354 End data with <CR><LF>.<CR><LF>\r\n");
        tr->Add(p.Until("\r\n.\r\n"));
        p.Send("250 2.0.0 Ok: queued as 4F2\r\n");
      } else if (l == "QUIT") {
        p.Send("221 2.0.0 Bye\r\n");
        return;
      } else {
        p.Send("502 5.5.2 Error: command not recognized\r\n");
      }
    }
  };
}

// Greeting, EHLO, STARTTLS, EHLO again.
void SmtpUpToTls(SmtpSession& s) {
  ASSERT_TRUE(s.Greeting().ok());
  ASSERT_TRUE(s.Hello("probe.test").ok());
  EXPECT_TRUE(s.Offers("STARTTLS"));
  EXPECT_FALSE(s.Offers("AUTH"));
  Status st = s.StartTls("mail.test");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(s.tls());
  EXPECT_TRUE(s.capabilities().empty());  // forgotten until the next EHLO
  ASSERT_TRUE(s.Hello("probe.test").ok());
  EXPECT_EQ(s.auth_mechanisms(), (std::set<std::string>{"PLAIN", "LOGIN"}));
}

TEST(SmtpSessionTest, AuthPlainAfterStartTls) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr));
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  SmtpSession s(*stream);
  SmtpUpToTls(s);
  Status st = s.AuthPlain("u", "secret");
  EXPECT_TRUE(st.ok()) << st.message();
  s.Quit();
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{"EHLO probe.test", "STARTTLS", "EHLO probe.test",
                                                "AUTH PLAIN AHUAc2VjcmV0", "QUIT"}));
}

TEST(SmtpSessionTest, AuthPlainRefusedIsRejected) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr));
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  SmtpSession s(*stream);
  SmtpUpToTls(s);
  Status st = s.AuthPlain("u", "wrong");
  EXPECT_EQ(st.message(), "AUTH PLAIN: 535 5.7.8 Error: authentication failed");
  EXPECT_EQ(s.failure(), probe::Reason::kRejected);
}

TEST(SmtpSessionTest, AuthLoginAfterStartTls) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr));
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  SmtpSession s(*stream);
  SmtpUpToTls(s);
  Status st = s.AuthLogin("u", "secret");
  EXPECT_TRUE(st.ok()) << st.message();
  auto lines = tr.Get();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[3], "AUTH LOGIN");
  EXPECT_EQ(lines[4], "dQ==");
  EXPECT_EQ(lines[5], "c2VjcmV0");
}

TEST(SmtpSessionTest, NoCredentialsBeforeTls) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr, /*auth_in_clear=*/true));
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  SmtpSession s(*stream);
  ASSERT_TRUE(s.Greeting().ok());
  ASSERT_TRUE(s.Hello("probe.test").ok());
  EXPECT_TRUE(s.Offers("AUTH"));  // offered, but the connection is plain
  for (Status st : {s.AuthPlain("u", "secret"), s.AuthLogin("u", "secret")}) {
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("refused without TLS"), std::string::npos) << st.message();
    EXPECT_EQ(s.failure(), probe::Reason::kTls);
  }
  s.Quit();
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{"EHLO probe.test", "QUIT"}));  // no AUTH reached the wire
}

TEST(SmtpSessionTest, MailRcptDataWithADotStuffedBody) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr));
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  SmtpSession s(*stream);
  ASSERT_TRUE(s.Greeting().ok());
  ASSERT_TRUE(s.Hello("probe.test").ok());
  ASSERT_TRUE(s.MailFrom("probe@example.test").ok());
  ASSERT_TRUE(s.RcptTo("user@example.test").ok());
  // LF and CR LF line ends, lines that start with dots, no final line end.
  Status st = s.Data("Subject: roundtrip\n\n.\n..two dots\r\n.one dot\nlast");
  EXPECT_TRUE(st.ok()) << st.message();
  s.Quit();
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{
                          "EHLO probe.test", "MAIL FROM:<probe@example.test>", "RCPT TO:<user@example.test>", "DATA",
                          "Subject: roundtrip\r\n\r\n..\r\n...two dots\r\n..one dot\r\nlast\r\n.\r\n", "QUIT"}));
}

TEST(SmtpSessionTest, RefusedRecipientIsRejected) {
  Transcript tr;
  FakeServer server("", SmtpServer(&tr));
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  SmtpSession s(*stream);
  ASSERT_TRUE(s.Greeting().ok());
  ASSERT_TRUE(s.Hello("probe.test").ok());
  ASSERT_TRUE(s.MailFrom("probe@example.test").ok());
  Status st = s.RcptTo("nobody@example.test");
  EXPECT_EQ(st.message(), "RCPT TO: 550 5.1.1 no such user");
  EXPECT_EQ(s.failure(), probe::Reason::kRejected);
}

TEST(SmtpSessionTest, LmtpDataHasAReplyPerRecipient) {
  Transcript tr;
  FakeServer server("", [&](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    p.Send("220 lmtp.test LMTP\r\n");
    for (std::string l = p.Line(); !l.empty(); l = p.Line()) {
      tr.Add(l);
      if (l == "DATA") {
        p.Send("354 go ahead\r\n");
        tr.Add(p.Until("\r\n.\r\n"));
        p.Send("250 2.0.0 <a@example.test> Saved\r\n452 4.2.2 <b@example.test> Quota exceeded\r\n");
      } else {
        p.Send("250 ok\r\n");
      }
    }
  });
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  SmtpSession s(*stream, SmtpSession::Dialect::kLmtp);
  ASSERT_TRUE(s.Greeting().ok());
  ASSERT_TRUE(s.Hello("probe.test").ok());
  ASSERT_TRUE(s.MailFrom("").ok());
  ASSERT_TRUE(s.RcptTo("a@example.test").ok());
  ASSERT_TRUE(s.RcptTo("b@example.test").ok());
  Status st = s.Data("x");
  EXPECT_EQ(st.message(), "end of data: 452 4.2.2 <b@example.test> Quota exceeded");
  EXPECT_EQ(tr.Get()[0], "LHLO probe.test");
  EXPECT_EQ(tr.Get()[1], "MAIL FROM:<>");
}

TEST(SmtpSessionTest, DotStuff) {
  EXPECT_EQ(SmtpSession::DotStuff(""), ".\r\n");
  EXPECT_EQ(SmtpSession::DotStuff("a\n"), "a\r\n.\r\n");
  EXPECT_EQ(SmtpSession::DotStuff(".\r\n.x"), "..\r\n..x\r\n.\r\n");
}

// ---- a silent server and garbage

TEST(SessionTest, SilentServerEndsByTheDeadline) {
  FakeServer server("", [](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    (void)p.Line();  // never speaks; returns when the client hangs up (or after 3 s)
  });
  auto stream = Open(server.address(), 300ms);
  ASSERT_TRUE(stream);
  const auto start = Clock::now();
  SmtpSession s(*stream);
  Status st = s.Greeting();
  const auto took = Clock::now() - start;
  EXPECT_EQ(st.message(), "greeting: read: timed out");
  EXPECT_EQ(st.code(), Status::Code::kDeadlineExceeded);
  EXPECT_EQ(s.failure(), probe::Reason::kTimeout);
  EXPECT_LT(took, 2s);
  stream.reset();  // hang up: the fake server's read ends now
}

TEST(SessionTest, SilenceAfterACommandEndsByTheDeadline) {
  FakeServer server("", [](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    p.Send("* OK ready\r\n");
    (void)p.Line();  // reads the command, never answers
    (void)p.Line();
  });
  auto stream = Open(server.address(), 300ms);
  ASSERT_TRUE(stream);
  const auto start = Clock::now();
  ImapSession s(*stream);
  ASSERT_TRUE(s.Greeting().ok());
  Status st = s.Capability();
  EXPECT_EQ(st.message(), "CAPABILITY: read: timed out");
  EXPECT_EQ(s.failure(), probe::Reason::kTimeout);
  EXPECT_LT(Clock::now() - start, 2s);
  stream.reset();
}

TEST(SessionTest, GarbageIsAClearProtocolError) {
  FakeServer server(
      "", [](int fd, const std::atomic<bool>&) { FakeServer::WriteAll(fd, "HTTP/1.1 400 Bad Request\r\n\r\n"); });
  {
    auto stream = Open(server.address());
    ASSERT_TRUE(stream);
    SmtpSession s(*stream);
    Status st = s.Greeting();
    EXPECT_EQ(s.failure(), probe::Reason::kProtocol);
    EXPECT_EQ(st.message().rfind("greeting: ", 0), 0u) << st.message();
    EXPECT_NE(st.message().find("HTTP/1.1 400"), std::string::npos) << st.message();
  }
  {
    auto stream = Open(server.address());
    ASSERT_TRUE(stream);
    ImapSession s(*stream);
    Status st = s.Greeting();
    EXPECT_EQ(s.failure(), probe::Reason::kProtocol);
    EXPECT_EQ(st.message(), "greeting: not untagged: \"HTTP/1.1 400 Bad Request\"");
  }
}

// ---- IMAP

const std::string kHeader = "From: a@example.test\r\nSubject: probe 7\r\n\r\n";

// An IMAP server on implicit TLS with one mailbox, INBOX, of three
// messages (UIDs 4, 7, 9); LOGIN "u" with password `p w"x\`.
FakeServer::Behaviour ImapServer(Transcript* tr) {
  return [=](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    if (!p.Accept()) return;
    p.Send("* OK [CAPABILITY IMAP4rev1 UIDPLUS AUTH=PLAIN] ready\r\n");
    for (std::string l = p.Line(); !l.empty(); l = p.Line()) {
      tr->Add(l);
      const std::string tag = l.substr(0, l.find(' '));
      const std::string cmd = l.substr(tag.size() + 1);
      if (cmd == "CAPABILITY") {
        p.Send("* CAPABILITY IMAP4rev1 UIDPLUS IDLE\r\n" + tag + " OK done\r\n");
      } else if (cmd.rfind("LOGIN ", 0) == 0) {
        p.Send(cmd == R"(LOGIN "u" "p w\"x\\")" ? tag + " OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE] Logged in\r\n"
                                                : tag + " NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
      } else if (cmd == "SELECT \"INBOX\"") {
        p.Send("* FLAGS (\\Answered \\Deleted \\Seen)\r\n* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 17] ok\r\n" +
               tag + " OK [READ-WRITE] Select completed.\r\n");
      } else if (cmd == "SELECT \"Nope\"") {
        p.Send(tag + " NO Mailbox doesn't exist: Nope\r\n");
      } else if (cmd == "UID SEARCH SUBJECT \"probe\"") {
        p.Send("* SEARCH 4 7 9\r\n" + tag + " OK Search completed.\r\n");
      } else if (cmd == "UID FETCH 7 (BODY.PEEK[HEADER])") {
        p.Send("* 2 FETCH (UID 7 BODY[HEADER] {" + std::to_string(kHeader.size()) + "}\r\n" + kHeader + ")\r\n" + tag +
               " OK Fetch completed.\r\n");
      } else if (cmd == "UID STORE 7 +FLAGS.SILENT (\\Deleted)") {
        p.Send(tag + " OK Store completed.\r\n");
      } else if (cmd == "EXPUNGE" || cmd == "UID EXPUNGE 7") {
        p.Send("* 2 EXPUNGE\r\n" + tag + " OK Expunge completed.\r\n");
      } else if (cmd == "LOGOUT") {
        p.Send("* BYE Logging out\r\n" + tag + " OK Logout completed.\r\n");
        return;
      } else {
        p.Send(tag + " BAD Error in IMAP command\r\n");
      }
    }
  };
}

// Implicit TLS, the greeting and CAPABILITY.
void ImapConnected(ImapSession& s) {
  Status st = s.Handshake("mail.test", "implicit TLS");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(s.Greeting().ok());
  ASSERT_TRUE(s.Capability().ok());
  EXPECT_EQ(s.capabilities(), (std::set<std::string>{"IMAP4REV1", "UIDPLUS", "IDLE"}));
}

TEST(ImapSessionTest, LoginSelectSearchFetchStoreExpunge) {
  Transcript tr;
  FakeServer server("", ImapServer(&tr));
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  ImapSession s(*stream);
  ImapConnected(s);
  Status st = s.Login("u", "p w\"x\\");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(s.Offers("MOVE"));  // from the OK's response code
  auto exists = s.Select("INBOX");
  ASSERT_TRUE(exists.ok()) << exists.status().message();
  EXPECT_EQ(*exists, 3u);
  auto uids = s.UidSearch("SUBJECT \"probe\"");
  ASSERT_TRUE(uids.ok()) << uids.status().message();
  EXPECT_EQ(*uids, (std::vector<uint32_t>{4, 7, 9}));
  auto header = s.UidFetch(7, "BODY.PEEK[HEADER]");
  ASSERT_TRUE(header.ok()) << header.status().message();
  EXPECT_EQ(*header, kHeader);
  EXPECT_TRUE(s.UidStore(7, "+FLAGS.SILENT (\\Deleted)").ok());
  EXPECT_TRUE(s.UidExpunge(7).ok());
  EXPECT_TRUE(s.Expunge().ok());
  s.Logout();
  EXPECT_EQ(tr.Get(), (std::vector<std::string>{"m1 CAPABILITY", R"(m2 LOGIN "u" "p w\"x\\")", "m3 SELECT \"INBOX\"",
                                                "m4 UID SEARCH SUBJECT \"probe\"", "m5 UID FETCH 7 (BODY.PEEK[HEADER])",
                                                "m6 UID STORE 7 +FLAGS.SILENT (\\Deleted)", "m7 UID EXPUNGE 7",
                                                "m8 EXPUNGE", "m9 LOGOUT"}));
}

TEST(ImapSessionTest, LoginNoIsRejectedAndThePasswordStaysOutOfTheMessage) {
  Transcript tr;
  FakeServer server("", ImapServer(&tr));
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  ImapSession s(*stream);
  ImapConnected(s);
  Status st = s.Login("u", "hunter2");
  EXPECT_EQ(st.message(), "LOGIN: NO [AUTHENTICATIONFAILED] Authentication failed.");
  EXPECT_EQ(s.failure(), probe::Reason::kRejected);
  auto missing = s.Select("Nope");
  EXPECT_EQ(missing.status().message(), "SELECT: NO Mailbox doesn't exist: Nope");
  auto absent = s.UidFetch(8, "BODY.PEEK[HEADER]");  // the server answers BAD
  EXPECT_EQ(absent.status().message(), "UID FETCH: BAD Error in IMAP command");
}

TEST(ImapSessionTest, NoLoginBeforeTlsAndNoUnquotableCredentials) {
  Transcript tr;
  FakeServer server("", [&](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    p.Send("* OK ready\r\n");
    for (std::string l = p.Line(); !l.empty(); l = p.Line()) {
      tr.Add(l);
      p.Send(l.substr(0, l.find(' ')) + " OK\r\n");
    }
  });
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  ImapSession s(*stream);
  ASSERT_TRUE(s.Greeting().ok());
  Status st = s.Login("u", "secret");
  EXPECT_EQ(s.failure(), probe::Reason::kTls);
  EXPECT_NE(st.message().find("refused without TLS"), std::string::npos) << st.message();
  EXPECT_TRUE(tr.Get().empty());
  EXPECT_EQ(ImapSession::Quote("a\"b\\c").value(), R"("a\"b\\c")");
  EXPECT_FALSE(ImapSession::Quote("line\r\nbreak").ok());
  EXPECT_FALSE(ImapSession::Quote("caf\xc3\xa9").ok());
}

TEST(ImapSessionTest, BadSearchResultsAndHugeLiteralsAreProtocolErrors) {
  FakeServer server("", [](int fd, const std::atomic<bool>&) {
    Peer p(fd);
    p.Send("* OK ready\r\n");
    std::string l = p.Line();
    p.Send("* SEARCH 4 seven\r\n" + l.substr(0, l.find(' ')) + " OK\r\n");
    l = p.Line();
    p.Send("* 1 FETCH (UID 1 BODY[] {999999999}\r\n");
    (void)p.Line();  // until the client hangs up
  });
  auto stream = Open(server.address());
  ASSERT_TRUE(stream);
  ImapSession s(*stream);
  ASSERT_TRUE(s.Greeting().ok());
  auto uids = s.UidSearch("ALL");
  EXPECT_EQ(uids.status().message(), "UID SEARCH: a result that is not a list of numbers");
  auto body = s.UidFetch(1, "BODY.PEEK[]");
  EXPECT_EQ(body.status().message(), "UID FETCH: literal of 999999999 bytes, more than 1048576");
  EXPECT_EQ(s.failure(), probe::Reason::kProtocol);
  stream.reset();
}

}  // namespace
}  // namespace mailstack::client
