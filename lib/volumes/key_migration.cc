// The fixed-key migration (volcrypt/key_migration.h). Per item, the order is
// claim -> find or store the secret -> read it back -> consumer -> delete
// same-name copies of interrupted runs -> record;
// the item stays claimed throughout (a marker on its row, not a held
// transaction: other commands go on while the key manager answers), so the
// record is the single moment the item changes keys.
#include "volcrypt/key_migration.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "lib/util/host_name.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

constexpr char kPrefix[] = "Not migrating encryption keys because ";

bool InTransition(const VolumeRecord& v) {
  return v.status == VolumeStatus::kCreating || v.status == VolumeStatus::kDeleting ||
         v.status == VolumeStatus::kManaging;
}

bool InTransition(const BackupRecord& b) {
  return b.status == "creating" || b.status == "deleting";
}

struct Candidate {
  KeyHolderKind kind;
  std::string id;
  bool in_transition;
  std::string user_id;  // the owner, granted read access (cinder's ACL)
};

// The secret an item's migrated key lives in, and same-name copies left by
// interrupted runs.
struct Secret {
  std::string id;
  bool adopted = false;
  std::vector<std::string> leftovers;
};

class Migration {
 public:
  Migration(VolumeStore& store, const SecretBytes& fixed_key,
            KeyManager& destination, const KeyMigrationOptions& options,
            Logger& log)
      : store_(store), fixed_key_(fixed_key), dest_(destination),
        options_(options), log_(log) {}

  KeyMigrationItem Migrate(const Candidate& c) {
    KeyMigrationItem item;
    item.kind = c.kind;
    item.id = c.id;
    const std::string noun(KeyHolderKindName(c.kind));
    if (c.in_transition) {
      item.outcome = KeyMigrationOutcome::kSkipped;
      item.error = absl::StrCat(noun, " is being created or deleted; rerun later");
      return item;
    }
    if (options_.dry_run) {
      log_.Log(LogLevel::kInfo, absl::StrCat("Would migrate ", noun, " ", c.id,
                                             " encryption key to ",
                                             options_.destination_name, " (dry run)"));
      item.outcome = KeyMigrationOutcome::kWouldMigrate;
      return item;
    }
    absl::StatusOr<std::unique_ptr<KeyIdChange>> change =
        store_.BeginKeyIdChange(c.kind, c.id, kFixedKeyId);
    if (change.status().code() == absl::StatusCode::kFailedPrecondition) {
      // EBUSY: a create or delete began after the listing; else another run
      // moved the item first.
      item.outcome = ErrnoOf(change.status()) == EBUSY
                         ? KeyMigrationOutcome::kSkipped
                         : KeyMigrationOutcome::kAlreadyMigrated;
      item.error = std::string(change.status().message());
      return item;
    }
    if (change.status().code() == absl::StatusCode::kNotFound) {
      item.outcome = KeyMigrationOutcome::kSkipped;
      item.error = std::string(change.status().message());
      return item;
    }
    if (!change.ok()) return Failed(std::move(item), change.status());
    log_.Log(LogLevel::kInfo, absl::StrCat("Migrating ", noun, " ", c.id,
                                           " encryption key to ",
                                           options_.destination_name));
    absl::StatusOr<Secret> secret = FindOrStore(c);
    if (!secret.ok()) return Failed(std::move(item), secret.status());
    KeyConsumer consumer;
    consumer.resource_type = noun;
    consumer.resource_id = c.id;
    absl::Status s = dest_.AddConsumer(secret->id, consumer);
    if (s.ok() && !c.user_id.empty()) s = dest_.GrantReadAccess(secret->id, c.user_id);
    if (!s.ok()) return Failed(std::move(item), s);
    // Copies of interrupted runs go before the record changes: once it has,
    // a rerun no longer lists the item, and a kill here would leave them for
    // good. Safe while the item is claimed: every run adopts the smallest id
    // holding the fixed key (FindOrStore), never one of these.
    item.duplicates_deleted = DeleteLeftovers(secret->leftovers);
    absl::StatusOr<int> snapshots = (*change)->Commit(secret->id);
    if (!snapshots.ok()) {
      change->reset();
      if (GiveUpSecret(c, *secret, snapshots.status())) {
        // Like an item found being deleted at the claim: left to its flow.
        item.outcome = KeyMigrationOutcome::kSkipped;
        item.error = std::string(snapshots.status().message());
        return item;
      }
      return Failed(std::move(item), snapshots.status());
    }
    change->reset();
    item.outcome = KeyMigrationOutcome::kMigrated;
    item.new_key_id = secret->id;
    item.adopted_secret = secret->adopted;
    item.snapshots = *snapshots;
    return item;
  }

 private:
  KeyMigrationItem Failed(KeyMigrationItem item, const absl::Status& s) {
    item.outcome = KeyMigrationOutcome::kFailed;
    item.error = std::string(s.message());
    log_.Log(LogLevel::kError,
             absl::StrCat("Error migrating encryption key: ", item.error));
    return item;
  }

  absl::StatusOr<Secret> FindOrStore(const Candidate& c) {
    const std::string name = MigratedKeyName(c.kind, c.id);
    Secret secret;
    absl::StatusOr<std::vector<std::string>> named = dest_.FindKeysByName(name);
    if (!named.ok() && named.status().code() != absl::StatusCode::kUnimplemented) {
      return named.status();
    }
    // In one order for every run, so that two runs adopt the same copy.
    std::vector<std::string> ids = named.ok() ? *named : std::vector<std::string>();
    std::sort(ids.begin(), ids.end());
    for (const std::string& id : ids) {
      absl::StatusOr<SecretBytes> bytes = dest_.GetKey(id);
      if (absl::IsNotFound(bytes.status())) continue;
      if (!bytes.ok()) return bytes.status();
      if (!bytes->Equals(fixed_key_)) {
        log_.Log(LogLevel::kWarning,
                 absl::StrCat("secret ", id, " is named ", name,
                              " but does not hold the fixed key; left alone"));
      } else if (secret.id.empty()) {
        secret.id = id;
        secret.adopted = true;
      } else {
        secret.leftovers.push_back(id);
      }
    }
    if (!secret.id.empty()) return secret;
    KeyRequest request;
    request.algorithm = "aes";
    request.bits = static_cast<int>(fixed_key_.size() * 8);
    request.name = name;
    absl::StatusOr<std::string> id = dest_.StoreKey(fixed_key_, request);
    if (absl::IsPermissionDenied(id.status())) {
      return ErrnoError(
          absl::StatusCode::kPermissionDenied, EACCES,
          absl::StrCat(options_.destination_name, " refused to store a secret (",
                       id.status().message(), "): the user needs Barbican's "
                       "'creator' role in the project"));
    }
    if (!id.ok()) return id.status();
    // Read back before recording: the item will depend on these bytes alone.
    absl::StatusOr<SecretBytes> back = dest_.GetKey(*id);
    if (!back.ok() || !back->Equals(fixed_key_)) {
      (void)dest_.DeleteKey(*id);
      return back.ok() ? absl::DataLossError(absl::StrCat(
                             "secret ", *id, " did not return the bytes stored"))
                       : back.status();
    }
    secret.id = *id;
    return secret;
  }

  // After a Commit that failed because the item went away or began being
  // created or deleted (a delete raced the migration): nothing will record
  // `secret` for this item, so it goes rather than stay orphaned. After a
  // lost claim (another migrator took the item over) it stays: the other
  // run adopts it by name or deletes it as a leftover. Returns whether the
  // item went away or began being created or deleted.
  bool GiveUpSecret(const Candidate& c, const Secret& secret, const absl::Status& why) {
    const bool item_gone = absl::IsNotFound(why) ||
                           (absl::IsFailedPrecondition(why) && ErrnoOf(why) == EBUSY);
    if (!item_gone) return false;
    absl::StatusOr<int> refs = store_.CountKeyReferences(secret.id);
    if (!refs.ok() || *refs != 0) return true;
    absl::Status s = dest_.DeleteKey(secret.id);
    if (!s.ok() && !absl::IsNotFound(s)) {
      log_.Log(LogLevel::kWarning,
               absl::StrCat("could not delete secret ", secret.id, " made for ",
                            KeyHolderKindName(c.kind), " ", c.id, ": ", s.message()));
    }
    return true;
  }

  // Deletes same-name copies that hold the fixed key and that no record
  // references; returns how many went.
  int DeleteLeftovers(const std::vector<std::string>& ids) {
    int deleted = 0;
    for (const std::string& id : ids) {
      absl::StatusOr<int> refs = store_.CountKeyReferences(id);
      if (!refs.ok() || *refs != 0) continue;
      absl::Status s = dest_.DeleteKey(id);
      if (s.ok() || absl::IsNotFound(s)) {
        ++deleted;
      } else {
        log_.Log(LogLevel::kWarning,
                 absl::StrCat("could not delete duplicate secret ", id, ": ",
                              s.message()));
      }
    }
    return deleted;
  }

  VolumeStore& store_;
  const SecretBytes& fixed_key_;
  KeyManager& dest_;
  const KeyMigrationOptions& options_;
  Logger& log_;
};

absl::StatusOr<std::vector<Candidate>> ListCandidates(VolumeStore& store,
                                                      const std::string& host,
                                                      bool* host_has_items) {
  VolumeFilter on_host;
  on_host.host = host;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<VolumeRecord> volumes,
                            store.ListVolumes(on_host));
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<BackupRecord> backups,
                            store.ListBackups(host));
  *host_has_items = !volumes.empty() || !backups.empty();
  std::vector<Candidate> out;
  for (const VolumeRecord& v : volumes) {
    if (v.encryption_key_id == kFixedKeyId) {
      out.push_back({KeyHolderKind::kVolume, v.id, InTransition(v), v.user_id});
    }
  }
  for (const BackupRecord& b : backups) {
    if (b.encryption_key_id == kFixedKeyId) {
      out.push_back({KeyHolderKind::kBackup, b.id, InTransition(b), b.user_id});
    }
  }
  return out;
}

absl::Status CountRemaining(VolumeStore& store, const std::string& host,
                            KeyMigrationReport& report) {
  bool unused;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<Candidate> left,
                            ListCandidates(store, host, &unused));
  report.volumes_remaining = report.backups_remaining = 0;
  for (const Candidate& c : left) {
    ++(c.kind == KeyHolderKind::kVolume ? report.volumes_remaining
                                        : report.backups_remaining);
  }
  return absl::OkStatus();
}

// cinder's closing status lines, then ours.
void LogStatus(const KeyMigrationReport& r, Logger& log) {
  if (r.volumes_remaining > 0) {
    log.Log(LogLevel::kWarning,
            absl::StrCat("There are still ", r.volumes_remaining,
                         " volume(s) using the ConfKeyManager's all-zeros "
                         "encryption key ID."));
  } else {
    log.Log(LogLevel::kInfo,
            "No volumes are using the ConfKeyManager's encryption_key_id.");
  }
  if (r.backups_remaining > 0) {
    log.Log(LogLevel::kWarning,
            absl::StrCat("There are still ", r.backups_remaining,
                         " backup(s) using the ConfKeyManager's all-zeros "
                         "encryption key ID."));
  } else {
    log.Log(LogLevel::kInfo,
            "No backups are known to be using the ConfKeyManager's encryption_key_id.");
  }
  if (r.volumes_remaining == 0 && r.backups_remaining == 0) {
    log.Log(LogLevel::kWarning,
            "Nothing on this host uses the fixed key any more: remove fixed_key "
            "from the configuration once every host reports the same.");
  }
}

}  // namespace

absl::string_view KeyMigrationOutcomeName(KeyMigrationOutcome o) {
  switch (o) {
    case KeyMigrationOutcome::kMigrated: return "migrated";
    case KeyMigrationOutcome::kWouldMigrate: return "would-migrate";
    case KeyMigrationOutcome::kAlreadyMigrated: return "already-migrated";
    case KeyMigrationOutcome::kSkipped: return "skipped";
    case KeyMigrationOutcome::kFailed: return "failed";
  }
  return "failed";
}

std::string MigratedKeyName(KeyHolderKind kind, const std::string& id) {
  return absl::StrCat("volcrypt-migrated-", KeyHolderKindName(kind), "-", id);
}

absl::StatusOr<KeyMigrationReport> MigrateFixedKeyItems(
    VolumeStore& store, KeyManager* fixed_keys, KeyManager& destination,
    const KeyMigrationOptions& options, Logger* logger) {
  Logger& log = logger ? *logger : *DefaultLogger();
  if (options.max_errors < 0) {
    return absl::InvalidArgumentError("max_errors must not be negative");
  }
  KeyMigrationReport report;
  report.host = options.host.empty() ? SystemHostName() : options.host;
  auto not_started = [&](const std::string& why) {
    report.not_started_because = kPrefix + why;
    log.Log(LogLevel::kInfo, report.not_started_because);
    return report;
  };
  if (destination.IsSharedKey(kFixedKeyId)) {
    return not_started("the ConfKeyManager is still in use.");
  }
  if (fixed_keys == nullptr) {
    return not_started("the ConfKeyManager's fixed_key is not in use.");
  }
  absl::StatusOr<SecretBytes> fixed_key = fixed_keys->GetKey(kFixedKeyId);
  if (!fixed_key.ok()) {
    return not_started("the ConfKeyManager's fixed_key is not in use.");
  }
  bool host_has_items = false;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<Candidate> todo,
                            ListCandidates(store, report.host, &host_has_items));
  if (!host_has_items) {
    return not_started("there are no volumes or backups associated with this host.");
  }
  log.Log(LogLevel::kInfo, "Starting migration of ConfKeyManager keys.");
  Migration migration(store, *fixed_key, destination, options, log);
  const auto start = std::chrono::steady_clock::now();
  for (const Candidate& c : todo) {
    KeyMigrationItem item = migration.Migrate(c);
    switch (item.outcome) {
      case KeyMigrationOutcome::kMigrated: ++report.migrated; break;
      case KeyMigrationOutcome::kFailed: ++report.failed; break;
      case KeyMigrationOutcome::kWouldMigrate: break;
      default: ++report.skipped; break;
    }
    report.items.push_back(std::move(item));
    if (options.on_item) {
      KeyMigrationProgress p;
      p.done = static_cast<int>(report.items.size());
      p.total = static_cast<int>(todo.size());
      p.elapsed_seconds = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start).count();
      options.on_item(report.items.back(), p);
    }
    if (report.failed > options.max_errors) {
      log.Log(LogLevel::kError, "Aborting encryption key migration (too many errors).");
      report.aborted = true;
      break;
    }
  }
  VOLCRYPT_RETURN_IF_ERROR(CountRemaining(store, report.host, report));
  LogStatus(report, log);
  return report;
}

}  // namespace volcrypt
