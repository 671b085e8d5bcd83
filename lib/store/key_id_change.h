// VolumeStore::BeginKeyIdChange over an SqlConnection: a claim on the row
// taken and released by short single statements, never a transaction held
// while the caller talks to a key manager (volume_store.h).
#ifndef VOLCRYPT_LIB_STORE_KEY_ID_CHANGE_H_
#define VOLCRYPT_LIB_STORE_KEY_ID_CHANGE_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "lib/store/sql_connection.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {

struct KeyClaimOptions {
  int wait_ms = 10000;       // how long another live owner's claim is waited for
  int lease_seconds = 600;   // how long a claim holds without its owner
};

// Claims volume or backup `id` for a key id change. `mu` serializes the
// connection's statements with the store's; both must outlive the change.
absl::StatusOr<std::unique_ptr<KeyIdChange>> BeginSqlKeyIdChange(
    SqlConnection& db, std::recursive_mutex& mu, KeyHolderKind kind,
    const std::string& id, const std::string& expected_key_id,
    const KeyClaimOptions& options);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_STORE_KEY_ID_CHANGE_H_
