// One HTTP(S) request over libcurl, as the key managers need it: bounded in
// time, TLS always verified (an extra CA bundle may be added), only http and
// https, no 100-continue stall, bodies that may hold secrets wiped.
#ifndef VOLCRYPT_LIB_KEYS_HTTP_CLIENT_H_
#define VOLCRYPT_LIB_KEYS_HTTP_CLIENT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace volcrypt {

// A std::string that is wiped when it goes away (payloads, tokens).
struct WipedString {
  std::string s;
  WipedString() = default;
  explicit WipedString(std::string v) : s(std::move(v)) {}
  WipedString(WipedString&& other) noexcept : s(std::move(other.s)) {}
  WipedString& operator=(WipedString&& other) noexcept;
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString();
};

struct HttpRequest {
  std::string service = "the server";  // for errors: "Barbican", "Keystone"
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"; may hold tokens
  const std::string* body = nullptr;  // sent as application/json if set
  std::string ca_path;
  int timeout_seconds = 10;

  HttpRequest() = default;
  HttpRequest(const HttpRequest&) = delete;
  HttpRequest& operator=(const HttpRequest&) = delete;
  ~HttpRequest();  // wipes the headers (tokens)
};

struct HttpResponse {
  long status = 0;
  WipedString body;
  // Response header values by lower-case name (the last one wins).
  std::map<std::string, WipedString> headers;
};

// Performs `request`. Transport failures and timeouts: Unavailable (errno
// ECONNREFUSED / ETIMEDOUT), "<what>: cannot reach <service> at
// <scheme://host:port>: ...",
// never a path, header or body.
absl::StatusOr<HttpResponse> PerformHttp(const HttpRequest& request,
                                         const std::string& what);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_KEYS_HTTP_CLIENT_H_
