// Reading Keystone's JSON answers: the bytes come from the network, so every
// function here takes any bytes and answers with a value or a Status (the
// fuzz target tests/fuzz/keystone_json_fuzz.cc holds them to that).
#ifndef VOLCRYPT_LIB_KEYS_KEYSTONE_JSON_H_
#define VOLCRYPT_LIB_KEYS_KEYSTONE_JSON_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace volcrypt {

// What volcrypt keeps of a POST /v3/auth/tokens answer's body (the token
// itself travels in the X-Subject-Token header).
struct KeystoneTokenBody {
  int64_t expires_at = 0;    // Unix seconds
  std::string project_id;    // "" if the token is not project-scoped
  std::string catalog_json;  // the service catalog, a JSON array ("[]" if none)
};

// Parses a token answer's body. DataLoss if it lacks the token's expiry or
// the expiry is not an RFC 3339 time.
absl::StatusOr<KeystoneTokenBody> ParseKeystoneTokenBody(const std::string& body);

// Returns Keystone's error message from an error answer's body, if it has one.
std::optional<std::string> KeystoneErrorMessage(const std::string& body);

// Returns the URL (without trailing slashes) of the first endpoint in
// `catalog_json` of `service_type` with `interface`, in `region` unless that
// is "" (any region); "" if there is none.
std::string CatalogEndpointUrl(const std::string& catalog_json,
                               const std::string& service_type,
                               const std::string& interface,
                               const std::string& region);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_KEYS_KEYSTONE_JSON_H_
