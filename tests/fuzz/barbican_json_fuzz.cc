// Fuzzes what volcrypt reads from Barbican's answers (the input is a
// response body, and also the seed of a generated body: json_from_bytes.h;
// the endpoint is configuration, fixed here):
//   BarbicanErrorDescription (any error answer), SecretIdFromRef (POST
//   /v1/secrets' "secret_ref"), SecretIdsFromList (GET /v1/secrets), and
//   SecretIdFromHref on the raw bytes (one href).
// Properties: every id returned is a UUID (ValidateKeyId), so no answer can
// make volcrypt address a path outside /v1/secrets/<uuid>.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/keys/barbican_json.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/json_from_bytes.h"
#include "volcrypt/key_manager.h"

namespace volcrypt {
namespace {

constexpr char kEndpoint[] = "http://127.0.0.1:9311";

void FuzzBarbicanJson(const std::string& body) {
  (void)BarbicanErrorDescription(body);
  absl::StatusOr<std::string> id = SecretIdFromRef(kEndpoint, body, "secret_ref");
  if (id.ok()) FUZZ_CHECK(ValidateKeyId(*id).ok());
  for (const std::string& listed : SecretIdsFromList(kEndpoint, body)) {
    FUZZ_CHECK(ValidateKeyId(listed).ok());
  }
  absl::StatusOr<std::string> href = SecretIdFromHref(kEndpoint, body);
  if (href.ok()) FUZZ_CHECK(ValidateKeyId(*href).ok());
}

}  // namespace
}  // namespace volcrypt

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> kWords = {
      "secret_ref", "secrets", "description", "title",
      "http://127.0.0.1:9311/v1/secrets/1b4e28ba-2fa1-11d2-883f-0016d3cca427",
      "http://127.0.0.1:9311/v1/secrets/../1b4e28ba-2fa1-11d2-883f-0016d3cca427"};
  volcrypt::FuzzBarbicanJson(std::string(reinterpret_cast<const char*>(data), size));
  volcrypt::FuzzBarbicanJson(volcrypt::fuzzing::JsonTextFromBytes(data, size, kWords));
  return 0;
}
