// File: volcrypt/key_manager.h
// -----------------------------------------------------------------------------
// A KeyManager keeps volume keys: it creates and stores them, returns their
// bytes by id, and deletes them. Key ids are UUID strings, as castellan's are
// (the last path segment of a Barbican secret href). The LUKS passphrase of a
// volume is HexPassphrase() of its key.
//
// Implementations: FileKeyManager (a local directory of wrapped keys, the
// embedded default), FixedKeyManager (castellan's ConfKeyManager),
// BarbicanKeyManager.
//
//   std::unique_ptr<KeyManager> keys = ...;
//   absl::StatusOr<NewKey> made = keys->CreateKey({"aes", 256, "volume-v1"});
//   // made->id is recorded; made->bytes is the key, no need to read it back.
//   absl::StatusOr<SecretBytes> key = keys->GetKey(made->id);  // later
//
// Errors, the same for every implementation:
//   NotFound          no key with that id
//   PermissionDenied  the key manager refuses (wrong project, missing role,
//                     wrong master key)
//   Unavailable       the key manager cannot be reached now; retry later
//   InvalidArgument   a malformed id or request
//   Unimplemented     this key manager cannot do that (a fixed key cannot
//                     store arbitrary keys)
//   DataLoss          a stored key is corrupted
//
// Thread safety: every method may be called from several threads at once.
#ifndef VOLCRYPT_KEY_MANAGER_H_
#define VOLCRYPT_KEY_MANAGER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {

// What a new key is: castellan's create_key(algorithm, length, name).
struct KeyRequest {
  std::string algorithm = "aes";
  int bits = 256;
  // Names the key after what it protects ("volcrypt-volume-<id>"), so a
  // reconciler can find a key whose id was never recorded.
  std::string name;
};

// Who uses a key (Barbican's consumers API; other key managers ignore it).
struct KeyConsumer {
  std::string service = "volcrypt";
  std::string resource_type = "volume";
  std::string resource_id;
};

// A key just made: its id and its bytes.
struct NewKey {
  std::string id;
  SecretBytes bytes;
};

// The all-zeros key id of castellan's ConfKeyManager.
inline constexpr char kFixedKeyId[] = "00000000-0000-0000-0000-000000000000";

class KeyManager {
 public:
  KeyManager() = default;
  KeyManager(const KeyManager&) = delete;
  KeyManager& operator=(const KeyManager&) = delete;
  virtual ~KeyManager();

  // Creates a new random key of `request.bits` and returns its id and bytes,
  // so that a caller never reads back the key it just made. The default
  // draws the bytes from OpenSSL's CSPRNG and stores them with StoreKey;
  // InvalidArgument for a length other than 128 to 512 bits in whole bytes.
  virtual absl::StatusOr<NewKey> CreateKey(const KeyRequest& request);

  // Stores `key` (request.bits must equal 8 * key.size()) under a new id and
  // returns the id.
  virtual absl::StatusOr<std::string> StoreKey(const SecretBytes& key,
                                               const KeyRequest& request) = 0;

  // Returns the bytes of key `id`.
  virtual absl::StatusOr<SecretBytes> GetKey(const std::string& id) = 0;

  // Deletes key `id`. NotFound if there is none (callers that only want it
  // gone treat that as success). A shared key that must never be deleted
  // (the fixed key) returns OK and stays.
  virtual absl::Status DeleteKey(const std::string& id) = 0;

  // Returns the ids of keys named `name`, for reconciling after a crash
  // between creating a key and recording its id. Unimplemented where the key
  // manager cannot list.
  virtual absl::StatusOr<std::vector<std::string>> FindKeysByName(
      const std::string& name) = 0;

  // Registers / removes `consumer` as a user of key `id`. OK where the key
  // manager has no such notion.
  virtual absl::Status AddConsumer(const std::string& id,
                                   const KeyConsumer& consumer);
  virtual absl::Status RemoveConsumer(const std::string& id,
                                      const KeyConsumer& consumer);

  // Lets user `user_id` read key `id` besides the project (Barbican's ACL,
  // as cinder grants a migrated key's owner). OK where the key manager has
  // no per-user access.
  virtual absl::Status GrantReadAccess(const std::string& id,
                                       const std::string& user_id);

  // True if key `id` is shared by design and is never deleted (the fixed key).
  virtual bool IsSharedKey(const std::string& id) const;
};

// Returns OK if `id` is a UUID in canonical 8-4-4-4-12 hex form, else
// InvalidArgument naming it.
absl::Status ValidateKeyId(const std::string& id);

// Returns a new random (version 4) UUID string.
absl::StatusOr<std::string> NewUuid();

}  // namespace volcrypt

#endif  // VOLCRYPT_KEY_MANAGER_H_
