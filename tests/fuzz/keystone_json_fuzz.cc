// Fuzzes what volcrypt reads from Keystone's answers (the input is a
// response body, and also the seed of a generated body: json_from_bytes.h):
//   ParseKeystoneTokenBody (POST /v3/auth/tokens: expiry, project, catalog),
//   CatalogEndpointUrl on the catalog it keeps and on the raw bytes (a
//   catalog array, any region and one region), and KeystoneErrorMessage
//   (a refused login).
// Properties: an endpoint URL returned is non-empty and has no trailing '/'.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/keys/keystone_json.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/json_from_bytes.h"

namespace volcrypt {
namespace {

void CheckEndpoints(const std::string& catalog) {
  for (const char* region : {"", "RegionOne"}) {
    const std::string url = CatalogEndpointUrl(catalog, "key-manager", "public", region);
    FUZZ_CHECK(url.empty() || url.back() != '/');
  }
}

void FuzzKeystoneJson(const std::string& body) {
  absl::StatusOr<KeystoneTokenBody> token = ParseKeystoneTokenBody(body);
  if (token.ok()) CheckEndpoints(token->catalog_json);
  CheckEndpoints(body);
  (void)KeystoneErrorMessage(body);
}

}  // namespace
}  // namespace volcrypt

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> kWords = {
      "token", "expires_at", "2026-12-02T00:14:45Z", "project", "id", "catalog",
      "type", "key-manager", "endpoints", "interface", "public", "region_id",
      "region", "RegionOne", "url", "http://127.0.0.1:9311/", "error", "message"};
  volcrypt::FuzzKeystoneJson(std::string(reinterpret_cast<const char*>(data), size));
  volcrypt::FuzzKeystoneJson(volcrypt::fuzzing::JsonTextFromBytes(data, size, kWords));
  return 0;
}
