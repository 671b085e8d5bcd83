// File: volcrypt/keystone_auth.h
// -----------------------------------------------------------------------------
// KeystoneSession: OpenStack Identity v3 tokens for the Barbican key manager.
// Authenticates with a password (scoped to a project) or an application
// credential, caches the token, and renews it before it expires (5 minutes
// before, or half its lifetime when shorter), or at once after a service
// answered 401. The token and the password are secrets: wiped, never logged,
// never in an error.
//
//   KeystoneOptions k;
//   k.auth_url = "https://keystone.example:5000/v3";
//   k.username = "cinder"; k.password = SecretBytes::CopyOf(p, n);
//   k.project_name = "service";
//   auto session = KeystoneSession::Create(std::move(k));
//   BarbicanOptions b;
//   b.keystone = std::move(*session);  // endpoint from the catalog if unset
#ifndef VOLCRYPT_KEYSTONE_AUTH_H_
#define VOLCRYPT_KEYSTONE_AUTH_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {

struct KeystoneOptions {
  std::string auth_url;  // the v3 endpoint: "http://127.0.0.1:5000/v3"

  // Password authentication, scoped to a project (by id, or by name in a
  // domain).
  std::string username;
  std::string user_domain_name = "Default";
  SecretBytes password;
  std::string project_id;
  std::string project_name;
  std::string project_domain_name = "Default";

  // Or an application credential (its scope is its own).
  std::string application_credential_id;
  SecretBytes application_credential_secret;

  std::string region;        // catalog lookups: this region only ("" = any)
  std::string interface = "public";
  std::string ca_path;       // extra CA bundle for https
  int timeout_seconds = 10;
};

// A token and what came with it.
struct KeystoneToken {
  SecretBytes value;       // the X-Subject-Token
  std::string project_id;  // the scope
  int64_t expires_at = 0;  // Unix seconds
};

class KeystoneSession {
 public:
  // Checks the options (one method, complete); does not contact Keystone.
  static absl::StatusOr<std::shared_ptr<KeystoneSession>> Create(
      KeystoneOptions options);
  ~KeystoneSession();

  // A valid token (a copy), fetched or renewed as needed. PermissionDenied
  // for wrong credentials (401) or a forbidden scope (403); Unavailable if
  // Keystone cannot be reached.
  absl::StatusOr<KeystoneToken> Token();

  // Forgets the cached token (a service answered 401: revoked or expired).
  void Invalidate();

  // The URL of `service_type` ("key-manager") in the token's catalog, for
  // the configured interface and region. NotFound if the catalog has none.
  absl::StatusOr<std::string> Endpoint(const std::string& service_type);

  // How many tokens were issued to this session (renewals included).
  int tokens_issued() const;

 private:
  explicit KeystoneSession(KeystoneOptions options);
  absl::Status Authenticate();  // with mu_ held

  KeystoneOptions options_;
  mutable std::mutex mu_;
  KeystoneToken token_;
  std::string catalog_json_;
  int64_t renew_at_ = 0;  // Unix seconds
  int tokens_issued_ = 0;
};

// Reads a password or application credential secret from `path`: a regular
// file only its owner may read (else PermissionDenied), at most 4 KiB, one
// trailing newline dropped. Errors name the file, never its contents.
absl::StatusOr<SecretBytes> ReadPasswordFile(const std::string& path);

}  // namespace volcrypt

#endif  // VOLCRYPT_KEYSTONE_AUTH_H_
