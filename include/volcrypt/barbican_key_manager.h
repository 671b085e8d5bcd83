// File: volcrypt/barbican_key_manager.h
// -----------------------------------------------------------------------------
// BarbicanKeyManager: OpenStack Barbican's REST API v1 over libcurl.
//   - CreateKey generates the key locally (OpenSSL's CSPRNG) and stores it
//     as a symmetric secret: one round trip, where an order would need a POST
//     and polling (and ends in ERROR for 512-bit keys without a mode).
//   - GetKey reads the payload as application/octet-stream.
//   - Key id = the last path segment of the secret href; hrefs that are not
//     under the configured endpoint are refused.
//   - Consumers (volcrypt/volume/<id>) are registered and removed.
//   - HTTP 400/413/415 -> InvalidArgument, 401/403 -> PermissionDenied,
//     404 -> NotFound, 5xx and transport errors -> Unavailable after bounded,
//     jittered retries. Refusals are never retried (a rejected Keystone
//     login is tried once: Keystone counts failures towards a lockout).
//     Payload buffers are wiped; no key in errors or logs.
//   - A store is retried without duplicating: before each retry, a secret of
//     the request's name holding exactly the bytes is taken as the lost
//     attempt's result (give every StoreKey/CreateKey a name).
// Authentication: Keystone v3 tokens (KeystoneSession: password or
// application credential), or a fixed project id header for test beds and
// trusted networks (Barbican's unauthenticated-context). TLS verification is
// never turned off; `ca_path` adds a CA bundle.
//
//   BarbicanOptions o;
//   o.endpoint = "https://barbican.example:9311";
//   o.project_id = "...";
//   absl::StatusOr<std::unique_ptr<KeyManager>> keys = NewBarbicanKeyManager(o, nullptr);
#ifndef VOLCRYPT_BARBICAN_KEY_MANAGER_H_
#define VOLCRYPT_BARBICAN_KEY_MANAGER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/keystone_auth.h"
#include "volcrypt/logger.h"

namespace volcrypt {

struct BarbicanOptions {
  // "http://127.0.0.1:9311" (without /v1); with a Keystone session, empty
  // means the key-manager endpoint of its catalog.
  std::string endpoint;
  // Keystone v3 tokens (X-Auth-Token), renewed before expiry and once after
  // a 401. Without it, the fixed project header below.
  std::shared_ptr<KeystoneSession> keystone;
  std::string project_id;  // sent as X-Project-Id (without Keystone)
  // Sent as X-Roles when set ("creator,reader"): the caller's roles where
  // Barbican trusts these headers (its unauthenticated context); unset
  // there, the caller is admin.
  std::string roles;
  std::string ca_path;     // extra CA bundle for https ("" = system CAs)
  int timeout_seconds = 10;
  int max_attempts = 3;    // for 5xx and transport errors
};

absl::StatusOr<std::unique_ptr<KeyManager>>
NewBarbicanKeyManager(const BarbicanOptions& options, Logger* logger);

}  // namespace volcrypt

#endif  // VOLCRYPT_BARBICAN_KEY_MANAGER_H_
