// The Barbican key manager and the HTTP client (Keystone uses it too) in
// libvolcrypt: they and libcurl live in the module volcrypt-barbican.so,
// loaded on first use.
#include "lib/keys/http_client.h"
#include "lib/modules/module_loader.h"
#include "lib/util/status_macros.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<KeyManager>> NewBarbicanKeyManager(
    const BarbicanOptions& options, Logger* logger) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table, LoadModule("barbican", "use Barbican"));
  return static_cast<const BarbicanModule*>(table)->new_key_manager(options, logger);
}

absl::StatusOr<HttpResponse> PerformHttp(const HttpRequest& request,
                                         const std::string& what) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table,
                            LoadModule("barbican", what + " with " + request.service));
  return static_cast<const BarbicanModule*>(table)->perform_http(request, what);
}

}  // namespace volcrypt
