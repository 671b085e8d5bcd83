// PerformHttp in a build without libcurl (meson option barbican): every
// request (Keystone, Barbican) fails before any connection.
#include "lib/keys/http_client.h"
#include "lib/util/missing_feature.h"

namespace volcrypt {

absl::StatusOr<HttpResponse> PerformHttp(const HttpRequest& request,
                                         const std::string& what) {
  return MissingFeature(what + " with " + request.service,
                        "HTTP key managers (libcurl)", "barbican");
}

}  // namespace volcrypt
