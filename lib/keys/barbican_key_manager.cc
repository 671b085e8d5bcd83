#include "volcrypt/barbican_key_manager.h"

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/keys/barbican_json.h"
#include "lib/keys/http_client.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

using Response = HttpResponse;

// Asked before a retry of a request that is not idempotent: the answer the
// previous attempt would have had, if the server acted on it although its
// answer was lost; nullopt if it did not.
using LostAnswerCheck = std::function<absl::StatusOr<std::optional<Response>>()>;

// `sent_secret`, if given, is the secret text the request carried: removed
// from Barbican's description, which quotes offending request values
// (jsonschema errors on a whole object quote all of it).
absl::Status HttpError(long status, const std::string& what, const std::string& body,
                       const std::string* sent_secret = nullptr) {
  WipedString description = BarbicanErrorDescription(body);
  if (sent_secret && !sent_secret->empty()) {
    for (size_t at; (at = description.s.find(*sent_secret)) != std::string::npos;) {
      description.s.replace(at, sent_secret->size(), "[redacted]");
    }
  }
  const std::string msg = absl::StrCat(what, ": Barbican answered HTTP ", status,
                                       description.s.empty() ? "" : ": ", description.s);
  if (status == 404) return ErrnoError(absl::StatusCode::kNotFound, ENOENT, msg);
  if (status == 401 || status == 403) {
    return ErrnoError(absl::StatusCode::kPermissionDenied, EACCES, msg);
  }
  if (status == 409) return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST, msg);
  if (status >= 500) return ErrnoError(absl::StatusCode::kUnavailable, EAGAIN, msg);
  return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL, msg);
}

class BarbicanKeyManager final : public KeyManager {
 public:
  BarbicanKeyManager(BarbicanOptions o, Logger* logger)
      : o_(std::move(o)), log_(logger ? logger : DefaultLogger()) {
    while (!o_.endpoint.empty() && o_.endpoint.back() == '/') o_.endpoint.pop_back();
  }

  absl::StatusOr<std::string> StoreKey(const SecretBytes& key,
                                       const KeyRequest& request) override {
    if (key.size() * 8 != static_cast<size_t>(request.bits)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key has ", key.size() * 8, " bits, the request says ", request.bits));
    }
    WipedString payload{absl::Base64Escape(
        absl::string_view(key.char_data(), key.size()))};
    nlohmann::json body = {{"name", request.name},
                           {"algorithm", request.algorithm == "aes" ? "AES" : request.algorithm},
                           {"bit_length", request.bits},
                           {"secret_type", "symmetric"},
                           {"payload_content_type", "application/octet-stream"},
                           {"payload_content_encoding", "base64"}};
    body["payload"] = payload.s;
    WipedString text{body.dump()};
    std::string& copy = body["payload"].get_ref<std::string&>();
    OPENSSL_cleanse(copy.data(), copy.size());  // the JSON object's own copy
    // POST /v1/secrets is not idempotent: an attempt whose answer was lost
    // (a timeout, a dropped connection, a 5xx after the commit) may have
    // stored the secret all the same. Before a retry, a secret of this name
    // holding exactly these bytes is that attempt's, and is the answer: a
    // retry never leaves a second copy that nothing references.
    const LostAnswerCheck stored_by_lost_attempt =
        [&]() -> absl::StatusOr<std::optional<Response>> {
      if (request.name.empty()) return std::nullopt;
      VOLCRYPT_ASSIGN_OR_RETURN(std::optional<std::string> id,
                                FindHolding(request.name, key));
      if (!id) return std::nullopt;
      Response created;
      created.status = 201;
      created.body.s = nlohmann::json(
          {{"secret_ref", absl::StrCat(o_.endpoint, "/v1/secrets/", *id)}}).dump();
      return created;
    };
    VOLCRYPT_ASSIGN_OR_RETURN(Response r, Call("POST", "/v1/secrets", text.s,
                                               "application/json", "store key",
                                               &stored_by_lost_attempt));
    if (r.status != 201) return HttpError(r.status, "store key", r.body.s, &payload.s);
    return SecretIdFromRef(o_.endpoint, r.body.s, "secret_ref");
  }

  absl::StatusOr<SecretBytes> GetKey(const std::string& id) override {
    VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(id));
    const std::string what = "get key " + id;
    VOLCRYPT_ASSIGN_OR_RETURN(Response r, Call("GET", "/v1/secrets/" + id + "/payload", "",
                                               "application/octet-stream", what));
    if (r.status != 200) return HttpError(r.status, what, r.body.s);
    return SecretBytes::CopyOf(r.body.s.data(), r.body.s.size());
  }

  absl::Status DeleteKey(const std::string& id) override {
    VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(id));
    const std::string what = "delete key " + id;
    VOLCRYPT_ASSIGN_OR_RETURN(Response r, Call("DELETE", "/v1/secrets/" + id, "", "", what));
    if (r.status != 204) return HttpError(r.status, what, r.body.s);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> FindKeysByName(const std::string& name) override {
    const std::string what = "find keys named " + name;
    VOLCRYPT_ASSIGN_OR_RETURN(Response r, Call("GET", ListPath(name), "",
                                               "application/json", what));
    return IdsFromList(r, what);
  }

  absl::Status AddConsumer(const std::string& id, const KeyConsumer& c) override {
    return Consumer("POST", id, c);
  }

  absl::Status RemoveConsumer(const std::string& id, const KeyConsumer& c) override {
    return Consumer("DELETE", id, c);
  }

  // The secret's read ACL: `user_id` plus the whole project (PUT replaces,
  // so a rerun sets the same ACL again).
  absl::Status GrantReadAccess(const std::string& id, const std::string& user_id) override {
    VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(id));
    const std::string what = "grant " + user_id + " read access to key " + id;
    const std::string body =
        nlohmann::json({{"read", {{"users", {user_id}}, {"project-access", true}}}}).dump();
    VOLCRYPT_ASSIGN_OR_RETURN(Response r, Call("PUT", "/v1/secrets/" + id + "/acl", body,
                                               "application/json", what));
    if (r.status != 200 && r.status != 201) return HttpError(r.status, what, r.body.s);
    return absl::OkStatus();
  }

 private:
  static std::string ListPath(const std::string& name) {
    CURL* esc = curl_easy_init();
    char* q = curl_easy_escape(esc, name.c_str(), static_cast<int>(name.size()));
    std::string path = absl::StrCat("/v1/secrets?limit=100&name=", q ? q : "");
    curl_free(q);
    curl_easy_cleanup(esc);
    return path;
  }

  absl::StatusOr<std::vector<std::string>> IdsFromList(const Response& r,
                                                       const std::string& what) {
    if (r.status != 200) return HttpError(r.status, what, r.body.s);
    return SecretIdsFromList(o_.endpoint, r.body.s);
  }

  // The id of a secret named `name` whose payload is exactly `key`, if one
  // exists. One attempt per request: it runs inside Call's retry loop.
  absl::StatusOr<std::optional<std::string>> FindHolding(const std::string& name,
                                                         const SecretBytes& key) {
    const std::string what = "look for a stored key named " + name;
    VOLCRYPT_ASSIGN_OR_RETURN(Response list,
                              Once("GET", ListPath(name), "", "application/json", what));
    VOLCRYPT_ASSIGN_OR_RETURN(std::vector<std::string> ids, IdsFromList(list, what));
    for (const std::string& id : ids) {
      VOLCRYPT_ASSIGN_OR_RETURN(Response r, Once("GET", "/v1/secrets/" + id + "/payload",
                                                 "", "application/octet-stream", what));
      if (r.status == 404) continue;
      if (r.status != 200) return HttpError(r.status, what, r.body.s);
      if (r.body.s.size() == key.size() &&
          CRYPTO_memcmp(r.body.s.data(), key.char_data(), key.size()) == 0) {
        return id;
      }
    }
    return std::nullopt;
  }

  absl::Status Consumer(const char* method, const std::string& id, const KeyConsumer& c) {
    VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(id));
    const std::string what = absl::StrCat(method[0] == 'P' ? "add" : "remove",
                                          " consumer of key ", id);
    const std::string body = nlohmann::json({{"service", c.service},
                                             {"resource_type", c.resource_type},
                                             {"resource_id", c.resource_id}}).dump();
    VOLCRYPT_ASSIGN_OR_RETURN(Response r, Call(method, "/v1/secrets/" + id + "/consumers",
                                               body, "application/json", what));
    if (r.status != 200 && r.status != 201 && r.status != 204) {
      return HttpError(r.status, what, r.body.s);
    }
    return absl::OkStatus();
  }

  // One request, retried on transport errors and 5xx (Unavailable, from
  // Barbican or from Keystone while getting a token) with jittered backoff,
  // bounded in attempts and (per attempt) in time. A request that is not
  // idempotent passes `lost_answer`, asked before each retry.
  absl::StatusOr<Response> Call(const std::string& method, const std::string& path,
                                const std::string& body, const std::string& accept,
                                const std::string& what,
                                const LostAnswerCheck* lost_answer = nullptr) {
    std::mt19937 jitter(std::random_device{}());
    absl::Status last;
    auto failed = [&](int attempt, absl::Status s) {
      log_->Log(LogLevel::kWarning,
                absl::StrCat(what, ": attempt ", attempt, " failed: ", s.message()));
      last = std::move(s);
    };
    bool renewed = false;
    for (int attempt = 1; attempt <= std::max(1, o_.max_attempts); ++attempt) {
      if (attempt > 1) {
        const int base_ms = 100 << (attempt - 2);
        std::this_thread::sleep_for(std::chrono::milliseconds(
            base_ms + std::uniform_int_distribution<int>(0, base_ms)(jitter)));
        if (lost_answer) {
          absl::StatusOr<std::optional<Response>> landed = (*lost_answer)();
          if (landed.ok() && landed->has_value()) return std::move(**landed);
          if (!landed.ok()) {
            failed(attempt, landed.status());
            continue;
          }
        }
      }
      absl::StatusOr<Response> r = Once(method, path, body, accept, what);
      if (r.ok() && r->status == 401 && o_.keystone && !renewed) {
        // The token was revoked or expired early: one more try with a new one.
        o_.keystone->Invalidate();
        renewed = true;
        --attempt;
        continue;
      }
      if (r.ok() && r->status < 500) return r;
      // A refusal (Keystone rejecting the credentials, a malformed answer)
      // is final: retrying would only add failed logins, which Keystone
      // counts towards locking the account.
      if (!r.ok() && !absl::IsUnavailable(r.status())) return r.status();
      failed(attempt, r.ok() ? HttpError(r->status, what, r->body.s) : r.status());
    }
    return last;
  }

  absl::StatusOr<Response> Once(const std::string& method, const std::string& path,
                                const std::string& body, const std::string& accept,
                                const std::string& what) {
    HttpRequest req;
    req.service = "Barbican";
    req.method = method;
    req.url = o_.endpoint + path;
    req.ca_path = o_.ca_path;
    req.timeout_seconds = o_.timeout_seconds;
    if (!body.empty()) req.body = &body;
    if (o_.keystone) {
      VOLCRYPT_ASSIGN_OR_RETURN(KeystoneToken token, o_.keystone->Token());
      req.headers.push_back(absl::StrCat(
          "X-Auth-Token: ", absl::string_view(token.value.char_data(), token.value.size())));
    } else {
      req.headers.push_back("X-Project-Id: " + o_.project_id);
      if (!o_.roles.empty()) req.headers.push_back("X-Roles: " + o_.roles);
    }
    req.headers.push_back("OpenStack-API-Version: key-manager 1.1");
    if (!accept.empty()) req.headers.push_back("Accept: " + accept);
    return PerformHttp(req, what);
  }

  BarbicanOptions o_;
  Logger* const log_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KeyManager>> NewBarbicanKeyManager(
    const BarbicanOptions& options, Logger* logger) {
  BarbicanOptions o = options;
  if (o.endpoint.empty() && o.keystone) {
    absl::StatusOr<std::string> url = o.keystone->Endpoint("key-manager");
    if (!url.ok()) return url.status();
    o.endpoint = *url;
  }
  if (!absl::StartsWith(o.endpoint, "http://") &&
      !absl::StartsWith(o.endpoint, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Barbican endpoint '", o.endpoint, "' is not an http(s) URL"));
  }
  if (o.project_id.empty() && !o.keystone) {
    return absl::InvalidArgumentError(
        "Barbican needs a Keystone session or a project id");
  }
  return std::unique_ptr<KeyManager>(new BarbicanKeyManager(std::move(o), logger));
}

}  // namespace volcrypt
