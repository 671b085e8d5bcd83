// A cloud that started on castellan's fixed key, for migration tests: real
// LUKS file volumes made by VolumeService with the fixed key, snapshots and
// backups recorded as cinder records them, on several hosts, some already on
// keys of their own. After a migration, Check() proves every volume opens
// with the key the destination returns for its new id (LUKS unlock).
#ifndef VOLCRYPT_TESTS_MIGRATION_MIGRATION_WORLD_H_
#define VOLCRYPT_TESTS_MIGRATION_MIGRATION_WORLD_H_

#include <memory>
#include <string>
#include <vector>

#include "volcrypt/key_manager.h"
#include "volcrypt/volume_store.h"
#include "volcrypt/block_backend.h"
#include "volcrypt/secret_bytes.h"

namespace volcrypt {
namespace testing {

class MigrationWorld {
 public:
  // Volume files go under `dir`.
  MigrationWorld(VolumeStore& store, std::string dir);
  ~MigrationWorld();

  // Writes the fixed key as castellan's config holds it (hex), 0600.
  void WriteFixedKeyFile(const std::string& path) const;

  // A fresh fixed key manager over the world's fixed key.
  std::unique_ptr<KeyManager> FixedKeys() const;

  // A volume on the fixed key with `snapshots` snapshot records and, if
  // `backup`, a backup record "<id>-backup" on the fixed key too.
  void AddFixedKeyVolume(const std::string& id, const std::string& host,
                         int snapshots, bool backup);
  // A volume created on `keys` (already off the fixed key).
  void AddOwnKeyVolume(const std::string& id, const std::string& host,
                       KeyManager& keys);

  // Items on `host` still on the zeros id.
  int FixedKeyItems(const std::string& host);

  // For every volume on `host` not on the zeros id: the key `keys` returns
  // for its id unlocks its LUKS header, its snapshots carry its id, and
  // exactly one secret bears its migrated name (when `named`). Same for
  // backups (key bytes equal the fixed key). Failures are gtest failures.
  void Check(const std::string& host, KeyManager& keys, bool named = true);

 private:
  VolumeStore& store_;
  std::string dir_;
  SecretBytes fixed_key_;
  std::unique_ptr<BlockBackend> mapped_;
};

}  // namespace testing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_MIGRATION_MIGRATION_WORLD_H_
