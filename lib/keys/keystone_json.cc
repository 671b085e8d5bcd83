#include "lib/keys/keystone_json.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace volcrypt {
namespace {

// The string `key` of `object`, if `object` is an object with such a
// string. (json::value() throws on any other shape.)
std::optional<std::string> StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Levels of nesting a catalog may have. A real one has 4 (the list, a
// service, its endpoints, each endpoint's fields); json::dump() recurses
// once per level, so a hostile answer nested a million deep would overflow
// the stack.
constexpr size_t kMaxCatalogDepth = 16;

// Returns the nesting depth of `j` (a scalar: 0), walking without recursion.
size_t NestingDepth(const nlohmann::json& j) {
  size_t max = 0;
  std::vector<std::pair<const nlohmann::json*, size_t>> todo = {{&j, 0}};
  while (!todo.empty()) {
    const auto [node, depth] = todo.back();
    todo.pop_back();
    if (!node->is_structured()) continue;
    max = std::max(max, depth + 1);
    for (const nlohmann::json& child : *node) todo.emplace_back(&child, depth + 1);
  }
  return max;
}

}  // namespace

absl::StatusOr<KeystoneTokenBody> ParseKeystoneTokenBody(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("token") || !j["token"].contains("expires_at")) {
    return absl::DataLossError("Keystone's token answer lacks the token or its expiry");
  }
  const nlohmann::json& t = j["token"];
  if (!t["expires_at"].is_string()) {
    return absl::DataLossError("Keystone's token expiry is not a string");
  }
  absl::Time expires;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, t["expires_at"].get<std::string>(),
                       &expires, &err)) {
    return absl::DataLossError("Keystone's token expiry is not a time: " + err);
  }
  KeystoneTokenBody out;
  out.expires_at = absl::ToUnixSeconds(expires);
  if (t.contains("project")) {
    const nlohmann::json& project = t["project"];
    if (!project.is_object() || (project.contains("id") && !project["id"].is_string())) {
      return absl::DataLossError("Keystone's token has a malformed project");
    }
    out.project_id = StringField(project, "id").value_or("");
  }
  if (t.contains("catalog") && NestingDepth(t["catalog"]) > kMaxCatalogDepth) {
    return absl::DataLossError("Keystone's token catalog is nested too deeply");
  }
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
    // Entries of another shape are skipped, not fatal: a later one may fit.
    if (StringField(service, "type") != service_type || !service.contains("endpoints")) {
      continue;
    }
    for (const auto& e : service["endpoints"]) {
      const std::string e_region =
          StringField(e, "region_id").value_or(StringField(e, "region").value_or(""));
      if (StringField(e, "interface") != interface ||
          (!region.empty() && e_region != region)) {
        continue;
      }
      std::string url = StringField(e, "url").value_or("");
      while (!url.empty() && url.back() == '/') url.pop_back();
      if (!url.empty()) return url;
    }
  }
  return "";
}

}  // namespace volcrypt
