#include "lib/keys/barbican_json.h"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "volcrypt/key_manager.h"

namespace volcrypt {

WipedString BarbicanErrorDescription(const std::string& body) {
  WipedString description;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    for (const char* field : {"description", "title"}) {
      auto it = j.find(field);
      if (it == j.end() || !it->is_string()) continue;
      std::string& text = it->get_ref<std::string&>();
      if (description.s.empty()) description.s = text;
      OPENSSL_cleanse(text.data(), text.size());  // the tree's copy may quote it too
    }
  }
  return description;
}

absl::StatusOr<std::string> SecretIdFromHref(const std::string& endpoint,
                                             const std::string& href) {
  const std::string prefix = endpoint + "/v1/secrets/";
  if (!absl::StartsWith(href, prefix)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "Barbican returned secret href ", href, ", not under ", endpoint));
  }
  const std::string id = href.substr(prefix.size());
  VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(id));
  return id;
}

absl::StatusOr<std::string> SecretIdFromRef(const std::string& endpoint,
                                            const std::string& body,
                                            const char* field) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains(field) || !j[field].is_string()) {
    return absl::DataLossError(absl::StrCat("Barbican's answer has no ", field));
  }
  return SecretIdFromHref(endpoint, j[field].get<std::string>());
}

std::vector<std::string> SecretIdsFromList(const std::string& endpoint,
                                           const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  std::vector<std::string> ids;
  if (!j.is_object() || !j.contains("secrets")) return ids;
  for (const auto& s : j["secrets"]) {
    if (!s.contains("secret_ref") || !s["secret_ref"].is_string()) continue;
    absl::StatusOr<std::string> id =
        SecretIdFromHref(endpoint, s["secret_ref"].get<std::string>());
    if (id.ok()) ids.push_back(*id);
  }
  return ids;
}

}  // namespace volcrypt
