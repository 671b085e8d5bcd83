// File: volcrypt/fixed_key_manager.h
// -----------------------------------------------------------------------------
// FixedKeyManager behaves exactly as OpenStack's ConfKeyManager (cinder and
// nova's `[key_manager] fixed_key`): one key for every volume, under the
// all-zeros id. It exists to read volumes made that way and to migrate them
// to a real key manager; it is insecure by design (any volume decrypts once
// the one key is known) and says so once, as a warning, when first made.
//
//   - CreateKey returns kFixedKeyId and the fixed key (whatever the request).
//   - StoreKey accepts only the fixed key itself (-> kFixedKeyId); any other
//     key is Unimplemented ("cannot store arbitrary keys").
//   - GetKey(kFixedKeyId) returns the fixed key; any other id is NotFound.
//   - DeleteKey(kFixedKeyId) logs "Not deleting key <id>" and returns OK;
//     any other id is NotFound.
//   - FindKeysByName returns nothing (castellan's list is empty).
//
//   absl::StatusOr<SecretBytes> key = SecretFromHex(config_value);
//   std::unique_ptr<KeyManager> keys = NewFixedKeyManager(*std::move(key), nullptr);
#ifndef VOLCRYPT_FIXED_KEY_MANAGER_H_
#define VOLCRYPT_FIXED_KEY_MANAGER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/logger.h"

namespace volcrypt {

// `fixed_key` is unhex(fixed_key) of the config; `logger` may be nullptr.
std::unique_ptr<KeyManager> NewFixedKeyManager(
    SecretBytes fixed_key, Logger* logger);

// Reads castellan's config form of the fixed key (hex; surrounding
// whitespace ignored) from `path`. NotFound / InvalidArgument name the file,
// never its contents. PermissionDenied if others may read the file.
absl::StatusOr<SecretBytes> ReadFixedKeyFile(
    const std::string& path);

}  // namespace volcrypt

#endif  // VOLCRYPT_FIXED_KEY_MANAGER_H_
