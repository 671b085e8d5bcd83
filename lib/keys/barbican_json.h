// Reading Barbican's JSON answers: the bytes come from the network, so every
// function here takes any bytes and answers with a value or a Status (the
// fuzz target tests/fuzz/barbican_json_fuzz.cc holds them to that).
#ifndef VOLCRYPT_LIB_KEYS_BARBICAN_JSON_H_
#define VOLCRYPT_LIB_KEYS_BARBICAN_JSON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/keys/http_client.h"

namespace volcrypt {

// Returns the "description" (else "title") of Barbican's error body, or ""
// if it has neither. Both fields are wiped in the parsed tree: Barbican's
// descriptions may quote the request, secrets included.
WipedString BarbicanErrorDescription(const std::string& body);

// Returns the secret id that `href` names under `endpoint`/v1/secrets/.
// PermissionDenied if it points elsewhere; InvalidArgument if the id is not
// a UUID.
absl::StatusOr<std::string> SecretIdFromHref(const std::string& endpoint,
                                             const std::string& href);

// Returns the secret id that the string `field` of the JSON object `body`
// names (SecretIdFromHref). DataLoss if there is no such string.
absl::StatusOr<std::string> SecretIdFromRef(const std::string& endpoint,
                                            const std::string& body,
                                            const char* field);

// Returns the ids of the secrets in a GET /v1/secrets answer; entries that
// are not secrets under `endpoint` are skipped, a body that is not a list
// answer gives none.
std::vector<std::string> SecretIdsFromList(const std::string& endpoint,
                                           const std::string& body);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_KEYS_BARBICAN_JSON_H_
