#include "collectors/probes/session.h"

#include <openssl/evp.h>

#include <chrono>

#include "collectors/parse/mail_reply.h"

namespace mailstack::probe {

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone: return "";
    case Reason::kResolve: return "resolve";
    case Reason::kConnect: return "connect";
    case Reason::kTimeout: return "timeout";
    case Reason::kTls: return "tls";
    case Reason::kProtocol: return "protocol";
    case Reason::kRejected: return "rejected";
  }
  return "";
}

const std::vector<std::string_view>& ReasonNames() {
  static const std::vector<std::string_view> kNames = {"resolve", "connect", "timeout", "tls", "protocol", "rejected"};
  return kNames;
}

}  // namespace mailstack::probe

namespace mailstack::client {

Status Session::Fail(Reason reason, std::string detail) {
  failure_ = reason;
  switch (reason) {
    case Reason::kTimeout: return Status::DeadlineExceeded(std::move(detail));
    case Reason::kRejected: return Status::PermissionDenied(std::move(detail));
    case Reason::kProtocol: return Status::InvalidArgument(std::move(detail));
    case Reason::kNone:  // a bug of the caller: still a failure
    case Reason::kResolve:
    case Reason::kConnect:
    case Reason::kTls: break;
  }
  return Status::Unavailable(std::move(detail));
}

Status Session::FailIo(const Status& s, Reason otherwise, std::string_view step) {
  Reason reason = s.code() == Status::Code::kDeadlineExceeded ? Reason::kTimeout : otherwise;
  // After the handshake, a broken record is a TLS failure, not the protocol's.
  if (reason == Reason::kProtocol && s_.tls() && s.code() == Status::Code::kIOError) reason = Reason::kTls;
  return Fail(reason, std::string(step) + ": " + s.message());
}

Status Session::Handshake(const std::string& server_name, std::string_view step) {
  if (Status s = s_.StartTls(server_name); !s.ok()) return FailIo(s, Reason::kTls, step);
  tls_done_ = true;
  return Status::Ok();
}

Status Session::Send(std::string_view bytes, std::string_view step) {
  if (Status s = s_.Write(bytes); !s.ok()) return FailIo(s, Reason::kProtocol, step);
  return Status::Ok();
}

Result<std::string> Session::ReadLine(std::string_view step) {
  auto line = s_.ReadLine(mail::kMaxLineBytes);
  if (!line.ok()) return FailIo(line.status(), Reason::kProtocol, step);
  return line;
}

Result<std::string> Session::ReadExact(size_t n, std::string_view step) {
  auto bytes = s_.ReadExact(n);
  if (!bytes.ok()) return FailIo(bytes.status(), Reason::kProtocol, step);
  return bytes;
}

Status Session::RequireTls(std::string_view step) {
  if (tls_done_) return Status::Ok();
  return Fail(Reason::kTls, std::string(step) + ": refused without TLS (the password would travel in clear)");
}

void Session::PoliteQuit(std::string_view command, int lines) {
  s_.Tighten(Deadline::After(std::chrono::seconds(2)));
  if (!s_.Write(command).ok()) return;
  for (int i = 0; i < lines; ++i) {
    if (!s_.ReadLine(mail::kMaxLineBytes).ok()) return;
  }
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace mailstack::client
