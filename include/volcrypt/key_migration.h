// File: volcrypt/key_migration.h
// -----------------------------------------------------------------------------
// Moves a host's volumes and backups off castellan's fixed key (the all-zeros
// key id) to a key manager that keeps one key per item: what cinder does at
// service start, on demand, with the log lines operators already grep for.
//
// For each of the host's volumes and backups whose encryption_key_id is the
// all-zeros id: claim the item, store the fixed key's bytes as a new secret
// named "volcrypt-migrated-<volume|backup>-<id>", read it back and compare,
// register the item as the secret's consumer, let the item's owner (user_id)
// read it (Barbican's ACL, as cinder does), then record the new id on the
// item and, for a volume, on every snapshot that held the zeros id, in one
// transaction. The bytes do not change, so the LUKS headers stay as they are
// and attached volumes keep working; their disks keep the secret they were
// given, which detach removes (AttachmentRecord::secret_uuid).
//
// Crash or kill at any point, then run again: an item is either still on the
// zeros id (and is migrated by the rerun) or fully moved. A secret stored
// before the crash is found by its name and adopted, never duplicated;
// same-name copies from several interrupted runs that hold the fixed key and
// that nothing references are deleted. Two runs on one database never
// migrate one item twice (VolumeStore::BeginKeyIdChange claims it).
//
// Differences from cinder, on purpose: runs on demand; a dry run; any
// destination that stores keys (Barbican, a FileKeyManager); items being
// created or deleted are skipped (their flows own the key id) and reported;
// a per-item report.
//
//   KeyMigrationOptions o;
//   o.host = "compute-1";
//   absl::StatusOr<KeyMigrationReport> r =
//       MigrateFixedKeyItems(*store, fixed.get(), *barbican, o, logger);
#ifndef VOLCRYPT_KEY_MIGRATION_H_
#define VOLCRYPT_KEY_MIGRATION_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/logger.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {

enum class KeyMigrationOutcome {
  kMigrated,         // the item and its snapshots now use a secret of their own
  kWouldMigrate,     // dry run: would be migrated
  kAlreadyMigrated,  // another run moved it after this run listed it
  kSkipped,          // being created or deleted, or gone: left for a rerun
  kFailed,           // still on the zeros id; `error` says why
};

// "migrated", "would-migrate", "already-migrated", "skipped", "failed".
absl::string_view KeyMigrationOutcomeName(KeyMigrationOutcome o);

struct KeyMigrationItem {
  KeyHolderKind kind = KeyHolderKind::kVolume;
  std::string id;
  KeyMigrationOutcome outcome = KeyMigrationOutcome::kFailed;
  std::string new_key_id;      // kMigrated
  bool adopted_secret = false;  // the secret was left by an interrupted run
  int snapshots = 0;            // snapshots that followed the volume
  int duplicates_deleted = 0;   // same-name copies from interrupted runs
  std::string error;            // kFailed / kSkipped: why (never key bytes)
};

struct KeyMigrationProgress {
  int done = 0;   // items handled so far, this one included
  int total = 0;  // items on the zeros id when the run started
  double elapsed_seconds = 0;
};

struct KeyMigrationOptions {
  std::string host;         // whose items; "" = this machine's host name
                            // (VolumeService's default host too)
  bool dry_run = false;     // report what would change, change nothing
  int max_errors = 3;       // abort once more items than this failed (cinder)
  std::string destination_name = "Barbican";  // for the log lines
  // Called after each item, on the calling thread.
  std::function<void(const KeyMigrationItem&, const KeyMigrationProgress&)> on_item;
};

struct KeyMigrationReport {
  std::string host;  // whose items were looked at
  // Empty when the migration ran; else cinder's "Not migrating encryption
  // keys because ..." line, and nothing was touched.
  std::string not_started_because;
  std::vector<KeyMigrationItem> items;
  int migrated = 0;
  int failed = 0;
  int skipped = 0;  // skipped and already migrated
  bool aborted = false;  // more than max_errors failures stopped the run
  // This host's items still on the zeros id when the run ended.
  int volumes_remaining = 0;
  int backups_remaining = 0;
};

// `fixed_keys` holds castellan's fixed key (NewFixedKeyManager), or is
// nullptr when no fixed key is configured; `destination` receives the
// secrets. Per-item failures are in the report (and logged); the returned
// status fails only when the store cannot be read, or the options are wrong.
absl::StatusOr<KeyMigrationReport> MigrateFixedKeyItems(
    VolumeStore& store, KeyManager* fixed_keys, KeyManager& destination,
    const KeyMigrationOptions& options, Logger* logger);

// The secret name an item's migrated key gets: "volcrypt-migrated-volume-<id>".
std::string MigratedKeyName(KeyHolderKind kind,
                                            const std::string& id);

}  // namespace volcrypt

#endif  // VOLCRYPT_KEY_MIGRATION_H_
