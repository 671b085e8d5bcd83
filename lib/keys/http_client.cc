#include "lib/keys/http_client.h"

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t AppendHeader(char* data, size_t size, size_t n, void* out) {
  const absl::string_view line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    auto& headers = *static_cast<std::map<std::string, WipedString>*>(out);
    headers[absl::AsciiStrToLower(line.substr(0, colon))] = WipedString(
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return size * n;
}

// The scheme, host and port of `url`, for errors (never a path or query).
std::string Origin(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "the server";
  const size_t path = url.find('/', scheme + 3);
  return url.substr(0, path);
}

}  // namespace

absl::StatusOr<HttpResponse> PerformHttp(const HttpRequest& request,
                                         const std::string& what) {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) return absl::InternalError("curl_global_init failed");
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                           &curl_easy_cleanup);
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  // libcurl keeps its own copies of the headers (tokens): wiped before free.
  struct SlistDeleter {
    void operator()(curl_slist* l) const {
      for (curl_slist* i = l; i != nullptr; i = i->next) {
        OPENSSL_cleanse(i->data, std::strlen(i->data));
      }
      curl_slist_free_all(l);
    }
  };
  curl_slist* raw = nullptr;
  for (const std::string& h : request.headers) raw = curl_slist_append(raw, h.c_str());
  raw = curl_slist_append(raw, "Expect:");  // no 1 s 100-continue stall
  if (request.body) raw = curl_slist_append(raw, "Content-Type: application/json");
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw);
  HttpResponse r;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(request.timeout_seconds));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_path.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_path.c_str());
  if (request.body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body->size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body.s);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &AppendHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    // A timeout is "not now, retry later", like a refused connection.
    const bool timeout = rc == CURLE_OPERATION_TIMEDOUT;
    return ErrnoError(absl::StatusCode::kUnavailable, timeout ? ETIMEDOUT : ECONNREFUSED,
                      absl::StrCat(what, ": cannot reach ", request.service, " at ",
                                   Origin(request.url), ": ",
                                   timeout ? absl::StrCat("no answer within ",
                                                          request.timeout_seconds, " s")
                                           : std::string(curl_easy_strerror(rc))));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

}  // namespace volcrypt
