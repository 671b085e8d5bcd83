#include "lib/keys/keystone_json.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace volcrypt {

absl::StatusOr<KeystoneTokenBody> ParseKeystoneTokenBody(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("token") || !j["token"].contains("expires_at")) {
    return absl::DataLossError("Keystone's token answer lacks the token or its expiry");
  }
  const nlohmann::json& t = j["token"];
  absl::Time expires;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, t["expires_at"].get<std::string>(),
                       &expires, &err)) {
    return absl::DataLossError("Keystone's token expiry is not a time: " + err);
  }
  KeystoneTokenBody out;
  out.expires_at = absl::ToUnixSeconds(expires);
  out.project_id = t.contains("project") ? t["project"].value("id", "") : "";
  out.catalog_json = t.contains("catalog") ? t["catalog"].dump() : "[]";
  return out;
}

std::optional<std::string> KeystoneErrorMessage(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].contains("message") &&
      j["error"]["message"].is_string()) {
    return j["error"]["message"].get<std::string>();
  }
  return std::nullopt;
}

std::string CatalogEndpointUrl(const std::string& catalog_json,
                               const std::string& service_type,
                               const std::string& interface,
                               const std::string& region) {
  nlohmann::json catalog = nlohmann::json::parse(catalog_json, nullptr, false);
  if (!catalog.is_array()) catalog = nlohmann::json::array();
  for (const auto& service : catalog) {
    if (!service.is_object() || service.value("type", "") != service_type ||
        !service.contains("endpoints")) {
      continue;
    }
    for (const auto& e : service["endpoints"]) {
      const std::string e_region = e.value("region_id", e.value("region", ""));
      if (e.value("interface", "") != interface ||
          (!region.empty() && e_region != region)) {
        continue;
      }
      std::string url = e.value("url", "");
      while (!url.empty() && url.back() == '/') url.pop_back();
      if (!url.empty()) return url;
    }
  }
  return "";
}

}  // namespace volcrypt
