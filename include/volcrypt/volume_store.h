// File: volcrypt/volume_store.h
// -----------------------------------------------------------------------------
// The volume database: where each volume's `encryption_key_id` lives (the
// mission's "disk information database"), with snapshots and backups, which
// also reference keys. Field names follow cinder's where they exist.
//
//   absl::StatusOr<std::unique_ptr<VolumeStore>> store =
//       OpenSqliteVolumeStore("/var/lib/volcrypt/volumes.db");
//   absl::StatusOr<VolumeRecord> v = (*store)->GetVolume("v1");
//
// Updates are compare-and-set on the status, so two processes racing on one
// volume cannot both win: UpdateVolume(record, expected) fails with
// FailedPrecondition if the stored status is no longer `expected`.
//
// Thread safety: a VolumeStore may be used from several threads; several
// processes may open the same database.
#ifndef VOLCRYPT_VOLUME_STORE_H_
#define VOLCRYPT_VOLUME_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "volcrypt/block_backend.h"
#include "volcrypt/encryption_spec.h"
#include "volcrypt/export.h"

namespace volcrypt {

enum class VolumeStatus {
  kCreating,   // being created; a reconcile finishes or undoes it
  kAvailable,  // ready, not attached
  kAttaching,  // an attach is under way
  kInUse,      // attached
  kDetaching,  // a detach is under way
  kExtending,  // being grown
  kDeleting,   // being deleted; a rerun of delete finishes it
  kError,      // needs an operator
};

// cinder's status strings: "creating", "available", "in-use", ...
VOLCRYPT_EXPORT absl::string_view VolumeStatusName(VolumeStatus status);
VOLCRYPT_EXPORT absl::StatusOr<VolumeStatus> ParseVolumeStatus(
    absl::string_view name);

struct VolumeRecord {
  std::string id;
  std::string host;
  VolumeLocation location;
  uint64_t size_bytes = 0;  // usable bytes: what the guest sees
  bool encrypted = true;
  EncryptionSpec encryption;
  std::string encryption_key_id;  // empty until the key exists
  std::string user_id;
  std::string project_id;
  VolumeStatus status = VolumeStatus::kCreating;
  int64_t created_at = 0;  // Unix seconds, set by the store
  int64_t updated_at = 0;
};

struct SnapshotRecord {
  std::string id;
  std::string volume_id;
  std::string encryption_key_id;  // the volume's key id, as in cinder
  std::string status = "available";
  int64_t created_at = 0;
};

struct BackupRecord {
  std::string id;
  std::string volume_id;
  std::string host;
  std::string encryption_key_id;  // a key of its own, same bytes (cinder)
  std::string user_id;
  std::string project_id;
  std::string status = "available";
  int64_t created_at = 0;
};

// Where a volume is attached (one attachment per volume: encrypted volumes
// are never multi-attached).
struct AttachmentRecord {
  std::string volume_id;
  std::string host;
  std::string domain;
  std::string target_dev;
  bool live = true;
  bool config = false;
  std::string status = "attaching";  // "attaching", "attached", "detaching"
  int64_t created_at = 0;
};

struct VolumeFilter {
  absl::optional<std::string> host;
  absl::optional<VolumeStatus> status;
  absl::optional<std::string> encryption_key_id;
};

class VOLCRYPT_EXPORT VolumeStore {
 public:
  VolumeStore() = default;
  VolumeStore(const VolumeStore&) = delete;
  VolumeStore& operator=(const VolumeStore&) = delete;
  virtual ~VolumeStore();

  // Adds a record. AlreadyExists if the id is taken.
  virtual absl::Status CreateVolume(const VolumeRecord& record) = 0;
  // NotFound if there is no such volume.
  virtual absl::StatusOr<VolumeRecord> GetVolume(const std::string& id) = 0;
  // Records matching every set field of `filter`, ordered by id.
  virtual absl::StatusOr<std::vector<VolumeRecord>> ListVolumes(
      const VolumeFilter& filter) = 0;
  // Replaces the record if its stored status is `expected`; else
  // FailedPrecondition naming both statuses. NotFound if absent.
  virtual absl::Status UpdateVolume(const VolumeRecord& record,
                                    VolumeStatus expected) = 0;
  // Removes the record. NotFound if absent; FailedPrecondition if snapshots
  // still depend on it.
  virtual absl::Status DeleteVolume(const std::string& id) = 0;

  virtual absl::Status CreateSnapshot(const SnapshotRecord& snapshot) = 0;
  virtual absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(
      const std::string& volume_id) = 0;
  virtual absl::Status DeleteSnapshot(const std::string& id) = 0;

  virtual absl::Status CreateBackup(const BackupRecord& backup) = 0;
  // Backups of `host` ("" for every host).
  virtual absl::StatusOr<std::vector<BackupRecord>> ListBackups(
      const std::string& host) = 0;
  virtual absl::Status DeleteBackup(const std::string& id) = 0;

  // AlreadyExists if the volume has an attachment; NotFound if no volume.
  virtual absl::Status CreateAttachment(const AttachmentRecord& a) = 0;
  // NotFound if the volume has none.
  virtual absl::StatusOr<AttachmentRecord> GetAttachment(
      const std::string& volume_id) = 0;
  virtual absl::Status UpdateAttachment(const AttachmentRecord& a) = 0;
  virtual absl::Status DeleteAttachment(const std::string& volume_id) = 0;

  // Returns how many volumes, snapshots and backups reference `key_id`.
  virtual absl::StatusOr<int> CountKeyReferences(const std::string& key_id) = 0;
};

// Opens (creating and migrating as needed) an SQLite volume database at
// `path`: WAL journal, synchronous=FULL, foreign keys on, a 10 s busy
// timeout for writers in other processes, and the schema version in
// PRAGMA user_version. FailedPrecondition for a database written by a newer
// volcrypt.
VOLCRYPT_EXPORT absl::StatusOr<std::unique_ptr<VolumeStore>>
OpenSqliteVolumeStore(const std::string& path);

}  // namespace volcrypt

#endif  // VOLCRYPT_VOLUME_STORE_H_
