#include "tests/migration/migration_world.h"

#include <sys/stat.h>

#include <cstdio>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/key_migration.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace testing {
namespace {

constexpr uint64_t kSize = 1 << 20;

std::unique_ptr<VolumeService> Service(KeyManager& keys, VolumeStore& store,
                                       BlockBackend& mapped,
                                       const std::string& host) {
  VolumeServiceOptions o;
  o.keys = &keys;
  o.store = &store;
  o.mapped = &mapped;
  o.host = host;
  o.logger = NullLogger();
  return std::move(VolumeService::Create(o).value());
}

}  // namespace

MigrationWorld::MigrationWorld(VolumeStore& store, std::string dir)
    : store_(store), dir_(std::move(dir)),
      fixed_key_(SecretBytes::Random(32).value()), mapped_(NewMappedBackend()) {}

MigrationWorld::~MigrationWorld() = default;

void MigrationWorld::WriteFixedKeyFile(const std::string& path) const {
  const SecretBytes hex = HexPassphrase(fixed_key_);
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(fchmod(fileno(f), 0600), 0);
  fwrite(hex.char_data(), 1, hex.size(), f);
  fclose(f);
}

std::unique_ptr<KeyManager> MigrationWorld::FixedKeys() const {
  return NewFixedKeyManager(fixed_key_.Clone(), NullLogger());
}

void MigrationWorld::AddOwnKeyVolume(const std::string& id,
                                     const std::string& host, KeyManager& keys) {
  CreateVolumeRequest r;
  r.id = id;
  r.location = VolumeLocation::Path(dir_ + "/" + id);
  r.size_bytes = kSize;
  r.user_id = "owner-of-" + id;
  absl::StatusOr<VolumeRecord> v = Service(keys, store_, *mapped_, host)->CreateVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
}

void MigrationWorld::AddFixedKeyVolume(const std::string& id,
                                       const std::string& host, int snapshots,
                                       bool backup) {
  std::unique_ptr<KeyManager> fixed = FixedKeys();
  AddOwnKeyVolume(id, host, *fixed);
  ASSERT_EQ(store_.GetVolume(id)->encryption_key_id, kFixedKeyId);
  for (int i = 0; i < snapshots; ++i) {
    VOLCRYPT_ASSERT_OK(store_.CreateSnapshot(
        {id + "-snap" + std::to_string(i), id, kFixedKeyId, "available", 0}));
  }
  if (backup) {
    VOLCRYPT_ASSERT_OK(store_.CreateBackup(
        {id + "-backup", id, host, kFixedKeyId, "u", "p", "available", 0}));
  }
}

int MigrationWorld::FixedKeyItems(const std::string& host) {
  VolumeFilter f;
  f.host = host;
  f.encryption_key_id = kFixedKeyId;
  int n = static_cast<int>(store_.ListVolumes(f)->size());
  const std::vector<BackupRecord> backups = store_.ListBackups(host).value();
  for (const BackupRecord& b : backups) {
    n += b.encryption_key_id == kFixedKeyId;
  }
  return n;
}

void MigrationWorld::Check(const std::string& host, KeyManager& keys, bool named) {
  VolumeFilter f;
  f.host = host;
  std::unique_ptr<VolumeService> service = Service(keys, store_, *mapped_, host);
  const std::vector<VolumeRecord> volumes = store_.ListVolumes(f).value();
  for (const VolumeRecord& v : volumes) {
    if (v.encryption_key_id == kFixedKeyId) continue;
    absl::StatusOr<int> slot = service->VerifyVolumeKey(v.id);
    EXPECT_TRUE(slot.ok()) << v.id << ": " << slot.status();
    const std::vector<SnapshotRecord> snapshots = store_.ListSnapshots(v.id).value();
    for (const SnapshotRecord& s : snapshots) {
      EXPECT_EQ(s.encryption_key_id, v.encryption_key_id) << s.id;
    }
    if (named && keys.GetKey(v.encryption_key_id)->Equals(fixed_key_)) {
      absl::StatusOr<std::vector<std::string>> same =
          keys.FindKeysByName(MigratedKeyName(KeyHolderKind::kVolume, v.id));
      ASSERT_TRUE(same.ok()) << same.status();
      EXPECT_EQ(*same, std::vector<std::string>{v.encryption_key_id}) << v.id;
    }
  }
  const std::vector<BackupRecord> backups = store_.ListBackups(host).value();
  for (const BackupRecord& b : backups) {
    if (b.encryption_key_id == kFixedKeyId) continue;
    absl::StatusOr<SecretBytes> key = keys.GetKey(b.encryption_key_id);
    ASSERT_TRUE(key.ok()) << b.id << ": " << key.status();
    EXPECT_TRUE(key->Equals(fixed_key_)) << b.id;
    if (named) {
      EXPECT_EQ(keys.FindKeysByName(MigratedKeyName(KeyHolderKind::kBackup, b.id)).value(),
                std::vector<std::string>{b.encryption_key_id}) << b.id;
    }
  }
}

}  // namespace testing
}  // namespace volcrypt
