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
// Two implementations with one schema and the same SQL: SQLite (one host, a
// file) and PostgreSQL (hosts sharing one database).
//
// Text fields. Every write checks each text field against its rule and
// refuses a bad one with InvalidArgument: one line naming the record kind
// and the field, quoting at most 64 bytes of the value with every byte that
// is not printable ASCII escaped as \xNN. The rules:
//   ids (volume, snapshot, backup; a snapshot's, backup's or attachment's
//     volume_id): 1 to 255 bytes of ASCII letters, digits, '-', '_', '.'
//   encryption_key_id, secret_uuid: the same set, 0 to 255 bytes ("" until
//     the key exists)
//   host: the same set plus '@', '#', ':' (cinder's host@backend#pool),
//     0 to 255 bytes
//   cipher, statuses, target_dev: the id set, 0 to 64 bytes
//   user_id, project_id, domain, pool, image: valid UTF-8 without control
//     characters (C0, DEL, C1: no NUL, newline, escape), 0 to 255 bytes
//   path: the same, 0 to 4095 bytes; location_proof: the same, 0 to 256
// Reads check what breaks readers (valid UTF-8, no control character) and
// the enum fields (backend, format, kdf, engine, status, key_format),
// because a row may predate the rules or have been written behind the
// store's back. A row that fails is "unreadable": listings leave it out and
// report it (SkippedRow, and a warning through the store's Logger), so one
// bad row never fails a whole listing; reading it by id is DataLoss naming
// the id and the field.
// The row is left as it is, for an operator to repair.
//
// Schema versions. Opening refuses, with FailedPrecondition and one line, a
// schema version newer than this build knows, a negative one, and a
// database that already holds tables but no volcrypt schema version (in
// SQLite any table; in PostgreSQL, which other programs may share, a table
// with one of volcrypt's names): volcrypt never adds its tables to someone
// else's database.
//
// Read-only stores (VolumeStoreOptions::read_only) run no migration and no
// write transaction, so they work while another process holds SQLite's
// write lock (a slow migration, a long create); every write is refused with
// FailedPrecondition (errno EROFS).
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
#include "volcrypt/logger.h"

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
  kManaging,   // being taken over (VolumeService::ManageVolume); a reconcile
               // undoes what the manage added, never the backing volume
  kRekeying,   // its key is being replaced (key_rotation.h); a reconcile finishes it
  kMigrating,  // its domain is moving to another host (VolumeService::
               // PrepareMigration); a reconcile decides by where it runs
  kConverting,  // its data is being copied to a new location under a new key
                // (conversion.h); a reconcile goes back to the old volume
                // before the swap and finishes on the new one after it
};

// cinder's status strings: "creating", "available", "in-use", ...
absl::string_view VolumeStatusName(VolumeStatus status);
absl::StatusOr<VolumeStatus> ParseVolumeStatus(
    absl::string_view name);

// How a volume's LUKS passphrase comes from its key's bytes (schema 7).
//   kHex         the passphrase is the lowercase hex of the key (castellan's
//                and cinder's rule; everything volcrypt creates)
//   kPassphrase  the key's bytes are the passphrase itself: a volume someone
//                made by hand with a passphrase that is not the hex of a
//                key, brought in by ManageVolume. Never hexed again.
enum class KeyFormat { kHex, kPassphrase };

// "hex" / "passphrase" and back.
absl::string_view KeyFormatName(KeyFormat format);
absl::StatusOr<KeyFormat> ParseKeyFormat(absl::string_view name);

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
  // What the volume's location held when this volume made it (e.g. the
  // LUKS header UUID, the RBD image id, a file's device and inode), so that
  // destructive steps can check they act on what the record owns. Opaque to
  // the store: UTF-8 text, at most 256 bytes; written by CreateVolume and
  // UpdateVolume, "" in rows from before schema 5.
  std::string location_proof;
  // How the passphrase comes from the key (KeyFormat); kHex in rows from
  // before schema 7.
  KeyFormat key_format = KeyFormat::kHex;
  // When the recorded key was made (Unix seconds): set at create and by each
  // key rotation; rows from before schema 8 take their created_at. A fixed-key
  // migration keeps it (the key bytes are the old ones).
  int64_t key_created_at = 0;
  // While 'rekeying': the rotation's other key id ("" until it is recorded),
  // the new key before the swap and the old one after it (key_rotation.h).
  std::string rekey_key_id;
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
  // The libvirt secret the disk was given: the volume's key id at attach
  // time. Detach removes this one, even if the volume's key id changed since
  // (the fixed-key migration). Set at creation, never updated; "" in rows
  // from before schema 4, which mean the volume's key id.
  std::string secret_uuid;
};

// The records that hold a key id of their own. A volume's snapshots carry
// the volume's key id and follow it.
enum class KeyHolderKind { kVolume, kBackup };

// "volume" / "backup".
absl::string_view KeyHolderKindName(KeyHolderKind kind);

// A volume or backup claimed while its key id is replaced (see
// VolumeStore::BeginKeyIdChange). Destroying it without Commit() changes
// nothing and releases the claim.
class KeyIdChange {
 public:
  KeyIdChange() = default;
  KeyIdChange(const KeyIdChange&) = delete;
  KeyIdChange& operator=(const KeyIdChange&) = delete;
  virtual ~KeyIdChange();

  // Records `new_key_id` on the item and, for a volume, on each of its
  // snapshots that held the old id; all in one short transaction, and only
  // while the claim holds (see BeginKeyIdChange). Returns how many
  // snapshots changed.
  virtual absl::StatusOr<int> Commit(const std::string& new_key_id) = 0;
};

// A volume conversion under way (lib/volumes/conversion.h, schema 10): one
// row per 'converting' volume. It holds the side of the conversion that the
// volume record does not: before the swap the destination (its location,
// spec, new key, header proof), after the swap the source (old location,
// old key, old proof) until the finish deletes or keeps it. So at every
// instant both sides are recorded somewhere, and every key either side
// holds is counted by CountKeyReferences.
enum class ConversionPhase {
  kCopying,  // before the swap: the record is the source
  kSwapped,  // after the swap: the record is the destination
};
absl::string_view ConversionPhaseName(ConversionPhase phase);  // "copying"/"swapped"

struct ConversionRecord {
  std::string volume_id;
  ConversionPhase phase = ConversionPhase::kCopying;
  VolumeStatus prior_status = VolumeStatus::kAvailable;  // set by BeginConversion
  bool online = false;       // a blockcopy conversion (online_conversion.h)
  bool keep_source = false;  // the finish keeps the old location
  // The side the record does not hold (see above).
  VolumeLocation other_location;
  bool other_encrypted = true;
  EncryptionSpec other_encryption;
  std::string other_key_id;  // "" until the new key is recorded; "" for a plain source
  KeyFormat other_key_format = KeyFormat::kHex;
  std::string other_location_proof;  // "luks:<UUID>" of the header written there
  // The copy's journal: payload bytes [0, copied_bytes) are on the
  // destination, so a rerun continues from there.
  uint64_t copied_bytes = 0;
  // Who runs it: "<host>/<pid>/<nonce>". A rerun takes over a conversion
  // whose owner is gone (lib/volumes/conversion.h).
  std::string owner;
  int64_t created_at = 0;  // set by the store
  int64_t updated_at = 0;
};

// A stored row that a listing left out because this build cannot read it
// (see "Text fields" above).
struct SkippedRow {
  std::string kind;    // "volume", "snapshot" or "backup"
  std::string id;      // as is if a valid id of at most 64 bytes, else
                       // quoted with \xNN escapes, cut after 64 bytes
  std::string reason;  // one line naming the field and its value
};

struct VolumeFilter {
  absl::optional<std::string> host;
  absl::optional<VolumeStatus> status;
  absl::optional<std::string> encryption_key_id;
  // Records naming this location (the path, or the pool and image).
  absl::optional<VolumeLocation> location;
  // Records whose key was made before this time (key_created_at, Unix s).
  absl::optional<int64_t> key_created_before;
};

class VolumeStore {
 public:
  VolumeStore() = default;
  VolumeStore(const VolumeStore&) = delete;
  VolumeStore& operator=(const VolumeStore&) = delete;
  virtual ~VolumeStore();

  // Adds a record. AlreadyExists if the id is taken.
  virtual absl::Status CreateVolume(const VolumeRecord& record) = 0;
  // NotFound if there is no such volume.
  virtual absl::StatusOr<VolumeRecord> GetVolume(const std::string& id) = 0;
  // Records matching every set field of `filter`, ordered by id. Rows that
  // cannot be read are left out, logged as warnings and, when `skipped` is
  // not null, appended to it.
  virtual absl::StatusOr<std::vector<VolumeRecord>> ListVolumes(
      const VolumeFilter& filter, std::vector<SkippedRow>* skipped) = 0;
  absl::StatusOr<std::vector<VolumeRecord>> ListVolumes(
      const VolumeFilter& filter) {
    return ListVolumes(filter, nullptr);
  }
  // Replaces the record if its stored status is `expected`; else
  // FailedPrecondition naming both statuses. NotFound if absent. The key id
  // is written only while none is recorded (a create's): a recorded key id
  // changes only through BeginKeyIdChange, so a copy read before that change
  // never writes the old id back.
  virtual absl::Status UpdateVolume(const VolumeRecord& record,
                                    VolumeStatus expected) = 0;
  // Removes the record. NotFound if absent; FailedPrecondition if snapshots
  // still depend on it.
  virtual absl::Status DeleteVolume(const std::string& id) = 0;
  // DeleteVolume for an unmanage: in the same transaction, the volume's key
  // id is remembered as released (schema 9), so that no later clean-up (a
  // create's undo looking for its key by name, a rotation's) deletes the
  // key the volume still opens with.
  virtual absl::Status ReleaseVolume(const std::string& id) = 0;

  // Records a snapshot of `snapshot.volume_id` with the volume's current key
  // id (snapshot.encryption_key_id is not used). AlreadyExists if the id is
  // taken, NotFound if the volume is absent.
  virtual absl::Status CreateSnapshot(const SnapshotRecord& snapshot) = 0;
  // Snapshots of `volume_id` ("" for all), ordered by id; unreadable rows as
  // in ListVolumes.
  virtual absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(
      const std::string& volume_id, std::vector<SkippedRow>* skipped) = 0;
  absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(
      const std::string& volume_id) {
    return ListSnapshots(volume_id, nullptr);
  }
  virtual absl::Status DeleteSnapshot(const std::string& id) = 0;

  virtual absl::Status CreateBackup(const BackupRecord& backup) = 0;
  // Backups of `host` ("" for every host), ordered by id; unreadable rows as
  // in ListVolumes.
  virtual absl::StatusOr<std::vector<BackupRecord>> ListBackups(
      const std::string& host, std::vector<SkippedRow>* skipped) = 0;
  absl::StatusOr<std::vector<BackupRecord>> ListBackups(const std::string& host) {
    return ListBackups(host, nullptr);
  }
  virtual absl::Status DeleteBackup(const std::string& id) = 0;

  // AlreadyExists if the volume has an attachment; NotFound if no volume.
  virtual absl::Status CreateAttachment(const AttachmentRecord& a) = 0;
  // NotFound if the volume has none.
  virtual absl::StatusOr<AttachmentRecord> GetAttachment(
      const std::string& volume_id) = 0;
  virtual absl::Status UpdateAttachment(const AttachmentRecord& a) = 0;
  // The attachment of `volume_id` names libvirt secret `to` instead of
  // `from` (a live conversion's pivot, online_conversion.h); one
  // compare-and-set. FailedPrecondition (EBUSY) if it names another;
  // NotFound if there is no attachment. Unimplemented by default.
  virtual absl::Status SetAttachmentSecret(const std::string& volume_id,
                                           const std::string& from, const std::string& to);
  virtual absl::Status DeleteAttachment(const std::string& volume_id) = 0;

  // Returns how many volumes, snapshots and backups reference `key_id`, plus
  // one if an unmanage released it (ReleaseVolume): a key volcrypt handed
  // back is never its to delete, even when it carries a volume's key name.
  virtual absl::StatusOr<int> CountKeyReferences(const std::string& key_id) = 0;

  // Claims volume or backup `id` for a key id change and checks it still
  // holds `expected_key_id`: FailedPrecondition naming the id it holds if
  // not (another run changed it first; errno ESTALE), FailedPrecondition
  // with errno EBUSY if it is being created or deleted (that flow owns its
  // key id), NotFound if there is no such item, Unavailable if another live
  // process holds the claim for longer than the lock timeout.
  //
  // The claim is a marker on the row (owner and lease expiry), taken by one
  // compare-and-set statement: no transaction stays open while the caller
  // talks to a key manager, so every other command, on this item or any
  // other, goes on meanwhile. Only another key id change waits for it. A
  // claim ends at Commit or when the KeyIdChange is destroyed; one whose
  // owner died on this host is taken over at once, one from another host
  // when its lease (VolumeStoreOptions::key_claim_lease_seconds) ends.
  // Commit records the new id only if the claim is still this change's and
  // the item is not being created or deleted (a delete may begin while the
  // change is open): else FailedPrecondition (EBUSY: the item became
  // creating/deleting; ESTALE: the claim expired and was taken) or NotFound
  // (the item is gone), and the caller must give up whatever it made for
  // the new id. The change must not outlive the store.
  virtual absl::StatusOr<std::unique_ptr<KeyIdChange>> BeginKeyIdChange(
      KeyHolderKind kind, const std::string& id,
      const std::string& expected_key_id) = 0;

  // Key rotation (key_rotation.h). Each is one compare-and-set statement on
  // the volume's row; FailedPrecondition (errno EBUSY) when the row is not
  // in the state named, NotFound when there is no such volume.
  //
  // Moves volume `id` from `expected` to 'rekeying' with no other key, only
  // while its key was made before `key_created_before` (Unix seconds): a key
  // already rotated since is FailedPrecondition with errno EALREADY, so two
  // hosts rotating one fleet rotate each volume once.
  virtual absl::Status BeginKeyRotation(const std::string& id,
                                        VolumeStatus expected,
                                        int64_t key_created_before) = 0;
  // Records `key_id` as the other key of a 'rekeying' volume whose other key
  // is `expected` ("" before the new key is recorded).
  virtual absl::Status SetRotationKey(const std::string& id,
                                      const std::string& expected,
                                      const std::string& key_id) = 0;
  // Swaps the recorded key id and the other key of a 'rekeying' volume that
  // holds `recorded` and `other`, and sets key_created_at to now.
  virtual absl::Status SwapRotationKey(const std::string& id,
                                       const std::string& recorded,
                                       const std::string& other) = 0;
  // Ends a rotation: 'rekeying' -> `to`, the other key cleared.
  virtual absl::Status EndKeyRotation(const std::string& id, VolumeStatus to) = 0;

  // Conversions (ConversionRecord, lib/volumes/conversion.h). The defaults
  // are Unimplemented for stores that predate them.
  //
  // In one transaction: volume `c.volume_id` from `expected` to 'converting'
  // and `c` inserted (phase 'copying', prior_status = `expected`).
  // FailedPrecondition (EBUSY) if the volume is not `expected`; AlreadyExists
  // if a conversion row exists; NotFound if no such volume.
  virtual absl::Status BeginConversion(const ConversionRecord& c,
                                       VolumeStatus expected);
  // NotFound if the volume has no conversion row.
  virtual absl::StatusOr<ConversionRecord> GetConversion(const std::string& volume_id);
  // Records the destination's key id, its header proof, the journal
  // (copied_bytes) and the owner of a conversion still in 'copying'; FailedPrecondition
  // (EBUSY) after the swap. The key id is written only while none is
  // recorded or it is the same (a recorded key is never lost).
  virtual absl::Status UpdateConversion(const ConversionRecord& c);
  // The swap, one transaction: the volume (which must be 'converting') takes
  // the row's location, encryption, key id, key format and proof
  // (key_created_at = now), and the row takes the volume's old ones, phase
  // 'swapped'. FailedPrecondition (EBUSY) unless the row is 'copying' with a
  // key id and a proof recorded.
  virtual absl::Status SwapConversion(const std::string& volume_id);
  // In one transaction: the row deleted and the volume 'converting' -> `to`.
  virtual absl::Status EndConversion(const std::string& volume_id, VolumeStatus to);
};

struct VolumeStoreOptions {
  // Open for reading only: no schema upgrade, no write transaction; writes
  // fail with FailedPrecondition (errno EROFS). A database that does not
  // exist yet is NotFound; one whose schema is older than this build's is
  // FailedPrecondition with errno ESTALE (open it once read-write to
  // upgrade it).
  bool read_only = false;
  // Where warnings about unreadable rows go; nullptr = DefaultLogger().
  Logger* logger = nullptr;
  // How long a lock held by another process is waited for, then
  // Unavailable. 0 = the default: 10 s for SQLite, 30 s for PostgreSQL.
  int lock_timeout_ms = 0;
  // How long a key id change claim (BeginKeyIdChange) holds when its owner
  // neither commits nor releases it (killed on another host). 0 = 600 s.
  int key_claim_lease_seconds = 0;
};

// Opens (creating and migrating as needed, unless read-only) an SQLite
// volume database at `path`: WAL journal, synchronous=FULL, foreign keys
// on, the lock timeout as SQLite's busy timeout for writers in other
// processes, and the schema version in PRAGMA user_version.
// FailedPrecondition for a schema version this build does not know or a
// database that is not volcrypt's (see "Schema versions" above).
absl::StatusOr<std::unique_ptr<VolumeStore>>
OpenSqliteVolumeStore(const std::string& path, const VolumeStoreOptions& options);
absl::StatusOr<std::unique_ptr<VolumeStore>>
OpenSqliteVolumeStore(const std::string& path);

// Connects (libpq connection string: "host=... port=... user=... dbname=...")
// to a PostgreSQL volume database that several hosts may share, creating or
// upgrading the schema as needed (hosts opening it at once take turns). Row
// locks wait at most `lock_timeout_ms`, then Unavailable. Errors never
// repeat the connection string (it may hold a password).
// The schema version lives in a volcrypt_schema table.
absl::StatusOr<std::unique_ptr<VolumeStore>>
OpenPostgresVolumeStore(const std::string& conninfo,
                        const VolumeStoreOptions& options);
absl::StatusOr<std::unique_ptr<VolumeStore>>
OpenPostgresVolumeStore(const std::string& conninfo, int lock_timeout_ms = 30000);

}  // namespace volcrypt

#endif  // VOLCRYPT_VOLUME_STORE_H_
