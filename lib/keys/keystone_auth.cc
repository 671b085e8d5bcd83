#include "volcrypt/keystone_auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "lib/keys/http_client.h"
#include "lib/keys/keystone_json.h"
#include "lib/keys/secret_file.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

// The auth request body. The secret is written straight into the JSON
// tree's own string and wiped there after serializing, so no unwiped copy
// is left behind.
WipedString AuthBody(const KeystoneOptions& o) {
  nlohmann::json request;
  nlohmann::json& auth = request["auth"];
  const SecretBytes* secret;
  std::string* slot;
  if (!o.application_credential_id.empty()) {
    auth["identity"] = {{"methods", {"application_credential"}},
                        {"application_credential",
                         {{"id", o.application_credential_id}, {"secret", ""}}}};
    secret = &o.application_credential_secret;
    slot = &auth["identity"]["application_credential"]["secret"].get_ref<std::string&>();
  } else {
    auth["identity"] = {
        {"methods", {"password"}},
        {"password",
         {{"user", {{"name", o.username},
                    {"domain", {{"name", o.user_domain_name}}},
                    {"password", ""}}}}}};
    auth["scope"]["project"] =
        o.project_id.empty()
            ? nlohmann::json{{"name", o.project_name},
                             {"domain", {{"name", o.project_domain_name}}}}
            : nlohmann::json{{"id", o.project_id}};
    secret = &o.password;
    slot = &auth["identity"]["password"]["user"]["password"].get_ref<std::string&>();
  }
  slot->assign(secret->char_data(), secret->size());
  WipedString body(request.dump());
  OPENSSL_cleanse(slot->data(), slot->size());
  return body;
}

absl::Status KeystoneError(long status, const std::string& body) {
  const std::optional<std::string> message = KeystoneErrorMessage(body);
  const std::string detail = message ? ": " + *message : "";
  const std::string msg = absl::StrCat("Keystone refused to issue a token (HTTP ",
                                       status, ")", detail);
  if (status == 401 || status == 403) {
    return ErrnoError(absl::StatusCode::kPermissionDenied, EACCES, msg);
  }
  if (status == 404) return ErrnoError(absl::StatusCode::kNotFound, ENOENT, msg);
  if (status >= 500) return ErrnoError(absl::StatusCode::kUnavailable, EAGAIN, msg);
  return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL, msg);
}

}  // namespace

KeystoneSession::KeystoneSession(KeystoneOptions options)
    : options_(std::move(options)) {
  while (!options_.auth_url.empty() && options_.auth_url.back() == '/') {
    options_.auth_url.pop_back();
  }
}

KeystoneSession::~KeystoneSession() = default;

absl::StatusOr<std::shared_ptr<KeystoneSession>> KeystoneSession::Create(
    KeystoneOptions o) {
  if (o.auth_url.rfind("http://", 0) != 0 && o.auth_url.rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Keystone auth URL '", o.auth_url, "' is not an http(s) URL"));
  }
  const bool app_cred = !o.application_credential_id.empty();
  const bool password = !o.username.empty();
  if (app_cred == password) {
    return absl::InvalidArgumentError(
        "Keystone needs either a username and password or an application "
        "credential id and secret");
  }
  if (app_cred && o.application_credential_secret.empty()) {
    return absl::InvalidArgumentError("Keystone application credential has no secret");
  }
  if (password && o.password.empty()) {
    return absl::InvalidArgumentError("Keystone user " + o.username + " has no password");
  }
  if (password && o.project_id.empty() && o.project_name.empty()) {
    return absl::InvalidArgumentError("Keystone password auth needs a project (id or name)");
  }
  return std::shared_ptr<KeystoneSession>(new KeystoneSession(std::move(o)));
}

absl::Status KeystoneSession::Authenticate() {
  const WipedString body = AuthBody(options_);
  HttpRequest req;
  req.service = "Keystone";
  req.method = "POST";
  req.url = options_.auth_url + "/auth/tokens";
  req.body = &body.s;
  req.headers = {"Accept: application/json"};
  req.ca_path = options_.ca_path;
  req.timeout_seconds = options_.timeout_seconds;
  absl::StatusOr<HttpResponse> r = PerformHttp(req, "authenticate");
  if (!r.ok()) return r.status();
  if (r->status != 201) return KeystoneError(r->status, r->body.s);
  auto token = r->headers.find("x-subject-token");
  if (token == r->headers.end() || token->second.s.empty()) {
    return absl::DataLossError("Keystone's token answer lacks the token or its expiry");
  }
  absl::StatusOr<KeystoneTokenBody> parsed = ParseKeystoneTokenBody(r->body.s);
  if (!parsed.ok()) return parsed.status();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  token_.value = SecretBytes::CopyOf(token->second.s.data(), token->second.s.size());
  token_.expires_at = parsed->expires_at;
  token_.project_id = std::move(parsed->project_id);
  const int64_t margin = std::min<int64_t>(300, (token_.expires_at - now) / 2);
  renew_at_ = token_.expires_at - std::max<int64_t>(margin, 0);
  catalog_json_ = std::move(parsed->catalog_json);
  ++tokens_issued_;
  return absl::OkStatus();
}

absl::StatusOr<KeystoneToken> KeystoneSession::Token() {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_.value.empty() || static_cast<int64_t>(std::time(nullptr)) >= renew_at_) {
    absl::Status s = Authenticate();
    if (!s.ok()) return s;
  }
  KeystoneToken copy;
  copy.value = token_.value.Clone();
  copy.project_id = token_.project_id;
  copy.expires_at = token_.expires_at;
  return copy;
}

void KeystoneSession::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  token_.value = SecretBytes();
}

absl::StatusOr<std::string> KeystoneSession::Endpoint(const std::string& service_type) {
  absl::StatusOr<KeystoneToken> token = Token();  // fills the catalog
  if (!token.ok()) return token.status();
  std::lock_guard<std::mutex> lock(mu_);
  std::string url = CatalogEndpointUrl(catalog_json_, service_type,
                                       options_.interface, options_.region);
  if (!url.empty()) return url;
  return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                    absl::StrCat("Keystone's catalog has no ", options_.interface, " ",
                                 service_type, " endpoint",
                                 options_.region.empty() ? "" : " in region " + options_.region));
}

absl::StatusOr<SecretBytes> ReadPasswordFile(const std::string& path) {
  absl::StatusOr<SecretBytes> text = ReadSecretFile(path, 4096);
  if (!text.ok()) return text.status();
  size_t n = text->size();
  if (n > 0 && text->data()[n - 1] == '\n') --n;
  if (n > 0 && text->data()[n - 1] == '\r') --n;
  if (n == 0) return absl::InvalidArgumentError(path + ": the password file is empty");
  text->Truncate(n);
  return text;
}

int KeystoneSession::tokens_issued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_issued_;
}

}  // namespace volcrypt
