// The wiping members of the HTTP client's types, apart from libcurl: built
// whether or not the client is (meson option barbican).
#include <openssl/crypto.h>

#include "lib/keys/http_client.h"

namespace volcrypt {

WipedString& WipedString::operator=(WipedString&& other) noexcept {
  OPENSSL_cleanse(s.data(), s.size());
  s = std::move(other.s);
  return *this;
}

WipedString::~WipedString() { OPENSSL_cleanse(s.data(), s.size()); }

HttpRequest::~HttpRequest() {
  for (std::string& h : headers) OPENSSL_cleanse(h.data(), h.size());
}

}  // namespace volcrypt
