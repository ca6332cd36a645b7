// A minimal blocking HTTP/1.1 client for tests: one request per connection.
#pragma once

#include <map>
#include <string>

namespace mailstack::testing {

struct HttpResponse {
  int status = 0;                              // 0 when the connection failed
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

HttpResponse HttpRequest(int port, const std::string& method, const std::string& path, int timeout_ms = 5000);

}  // namespace mailstack::testing
