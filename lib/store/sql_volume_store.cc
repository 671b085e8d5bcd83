// VolumeStore over an SqlConnection: one schema and one set of statements
// for SQLite and PostgreSQL (standard SQL only; $N parameters). Longer than
// this project's usual file on purpose: the schema, its migrations and every
// statement of the store contract stay side by side, so a reader sees all
// the SQL both databases run in one place; row parsing (record_rows), text
// rules (record_text) and key id claims (key_id_change) have their own files.
#include <ctime>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "lib/store/conversion_sql.h"
#include "lib/store/key_id_change.h"
#include "lib/store/record_rows.h"
#include "lib/store/record_text.h"
#include "lib/store/sql_connection.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace {

// Each entry upgrades the schema by one version; never change what a shipped
// entry does. (BIGINT: 64-bit in PostgreSQL, INTEGER affinity in SQLite.)
const char* const kMigrations[] = {
    // 1: volumes, snapshots, backups.
    R"sql(
    CREATE TABLE volumes (
      id TEXT PRIMARY KEY,
      host TEXT NOT NULL,
      backend TEXT NOT NULL,
      path TEXT NOT NULL DEFAULT '',
      pool TEXT NOT NULL DEFAULT '',
      image TEXT NOT NULL DEFAULT '',
      size_bytes BIGINT NOT NULL,
      encrypted BIGINT NOT NULL,
      provider TEXT NOT NULL,
      cipher TEXT NOT NULL,
      key_size BIGINT NOT NULL,
      sector_size BIGINT NOT NULL,
      kdf TEXT NOT NULL,
      engine TEXT NOT NULL,
      encryption_key_id TEXT NOT NULL DEFAULT '',
      user_id TEXT NOT NULL DEFAULT '',
      project_id TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL);
    CREATE INDEX volumes_by_key ON volumes(encryption_key_id);
    CREATE INDEX volumes_by_host ON volumes(host);
    CREATE TABLE snapshots (
      id TEXT PRIMARY KEY,
      volume_id TEXT NOT NULL REFERENCES volumes(id),
      encryption_key_id TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      created_at BIGINT NOT NULL);
    CREATE INDEX snapshots_by_volume ON snapshots(volume_id);
    CREATE TABLE backups (
      id TEXT PRIMARY KEY,
      volume_id TEXT NOT NULL,
      host TEXT NOT NULL,
      encryption_key_id TEXT NOT NULL DEFAULT '',
      user_id TEXT NOT NULL DEFAULT '',
      project_id TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      created_at BIGINT NOT NULL);
    )sql",
    // 2: attachments.
    R"sql(
    CREATE TABLE attachments (
      volume_id TEXT PRIMARY KEY REFERENCES volumes(id),
      host TEXT NOT NULL,
      domain TEXT NOT NULL,
      target_dev TEXT NOT NULL,
      live BIGINT NOT NULL,
      config BIGINT NOT NULL,
      status TEXT NOT NULL,
      created_at BIGINT NOT NULL);
    )sql",
    // 3: find a host's backups by key id (the fixed-key migration).
    R"sql(
    CREATE INDEX backups_by_host ON backups(host);
    CREATE INDEX snapshots_by_key ON snapshots(encryption_key_id);
    )sql",
    // 4: the libvirt secret an attachment's disk uses.
    R"sql(
    ALTER TABLE attachments ADD COLUMN secret_uuid TEXT NOT NULL DEFAULT '';
    )sql",
    // 5: what a volume's location held when the volume made it.
    R"sql(
    ALTER TABLE volumes ADD COLUMN location_proof TEXT NOT NULL DEFAULT '';
    )sql",
    // 6: key id change claims (lib/store/key_id_change.cc).
    R"sql(
    ALTER TABLE volumes ADD COLUMN key_claim TEXT NOT NULL DEFAULT '';
    ALTER TABLE volumes ADD COLUMN key_claim_until BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE backups ADD COLUMN key_claim TEXT NOT NULL DEFAULT '';
    ALTER TABLE backups ADD COLUMN key_claim_until BIGINT NOT NULL DEFAULT 0;
    )sql",
    // 7: how a volume's passphrase comes from its key (KeyFormat): 'hex' or
    // 'passphrase' (a managed volume's own passphrase).
    R"sql(
    ALTER TABLE volumes ADD COLUMN key_format TEXT NOT NULL DEFAULT 'hex';
    )sql",
    // 8: key rotation (lib/volumes/key_rotation.cc): when each key was made,
    // and a rotation's other key between its steps.
    R"sql(
    ALTER TABLE volumes ADD COLUMN key_created_at BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE volumes ADD COLUMN rekey_key_id TEXT NOT NULL DEFAULT '';
    UPDATE volumes SET key_created_at = created_at;
    )sql",
    // 9: keys an unmanage handed back (ReleaseVolume): never volcrypt's to
    // delete again, though they may still carry a volume's key name.
    R"sql(
    CREATE TABLE IF NOT EXISTS released_keys (
      key_id TEXT PRIMARY KEY,
      volume_id TEXT NOT NULL,
      released_at BIGINT NOT NULL
    );
    )sql",
    // 10: conversions under way (lib/store/conversion_sql.cc).
    kConversionsMigration,
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

absl::Status ReadOnly() {
  return ErrnoError(absl::StatusCode::kFailedPrecondition, EROFS,
                    "volume database is open read-only");
}

absl::Status NoVolume(const std::string& id) {
  return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                    absl::StrCat("volume ", ShownId(id), " not found"));
}

absl::Status NotAttached(const std::string& volume_id) {
  return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                    absl::StrCat("volume ", ShownId(volume_id), " is not attached"));
}

// Reading one row by id that cannot be read.
absl::Status Unreadable(absl::string_view kind, const std::string& id,
                        const std::string& why) {
  return absl::DataLossError(absl::StrCat(
      kind, " ", ShownId(id), " cannot be read: ", why,
      " (the row is left as it is)"));
}

// A constraint violation, told in the words of the record it was about.
absl::Status Exists(absl::Status s, const std::string& what) {
  if (s.code() != absl::StatusCode::kAlreadyExists) return s;
  return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST, what);
}

class SqlVolumeStore final : public VolumeStore {
 public:
  SqlVolumeStore(std::unique_ptr<SqlConnection> db, const VolumeStoreOptions& o,
                 int lock_timeout_ms)
      : db_(std::move(db)), read_only_(o.read_only),
        log_(o.logger ? o.logger : DefaultLogger()) {
    claims_.wait_ms = lock_timeout_ms;
    if (o.key_claim_lease_seconds > 0) {
      claims_.lease_seconds = o.key_claim_lease_seconds;
    }
  }

  // Checks the schema version and, unless read-only, upgrades it.
  absl::Status Migrate() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    std::unique_ptr<SqlTransaction> tx;
    if (!read_only_) {
      VOLCRYPT_ASSIGN_OR_RETURN(tx, SqlTransaction::Begin(*db_));
    }
    // Tables before the version (see IsForeignDatabase): without a
    // transaction (read-only) each is its own snapshot.
    VOLCRYPT_ASSIGN_OR_RETURN(const bool has_tables, db_->HoldsForeignTables());
    VOLCRYPT_ASSIGN_OR_RETURN(const int version, db_->SchemaVersion());
    if (version < 0 || version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "volume database has schema version ", version, "; this volcrypt knows ",
          "0 to ", kSchemaVersion, " and will not open it"));
    }
    if (version == 0 && has_tables) {
      return absl::FailedPreconditionError(kForeignDatabase);
    }
    if (version == kSchemaVersion) return absl::OkStatus();
    if (read_only_) {
      return ErrnoError(
          absl::StatusCode::kFailedPrecondition, ESTALE,
          absl::StrCat("volume database has schema version ", version,
                       ", older than this volcrypt's ", kSchemaVersion,
                       "; open it once read-write to upgrade it"));
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      VOLCRYPT_RETURN_IF_ERROR(db_->RunScript(kMigrations[v]));
    }
    VOLCRYPT_RETURN_IF_ERROR(db_->SetSchemaVersion(kSchemaVersion));
    return tx->Commit();
  }

  absl::Status CreateVolume(const VolumeRecord& record) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_RETURN_IF_ERROR(CheckVolumeText(record));
    std::vector<SqlParam> p = VolumeParams(record);
    p.push_back(Now());
    p.push_back(Now());
    p.push_back(std::string(KeyFormatName(record.key_format)));
    p.push_back(Now());          // key_created_at: the key is made with the volume
    p.push_back(std::string());  // rekey_key_id
    return Exists(Run(absl::StrCat("INSERT INTO volumes (", kVolumeColumns,
                                   ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,"
                                   "$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,"
                                   "$22,$23,$24)"),
                      p).status(),
                  absl::StrCat("volume ", record.id, " already exists"));
  }

  absl::StatusOr<VolumeRecord> GetVolume(const std::string& id) override {
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r, Run(absl::StrCat("SELECT ", kVolumeColumns,
                                    " FROM volumes WHERE id = $1"), {id}));
    if (r.empty()) return NoVolume(id);
    VolumeRecord v;
    const std::string why = ReadVolume(r, 0, &v);
    if (!why.empty()) return Unreadable("volume", id, why);
    return v;
  }

  absl::StatusOr<std::vector<VolumeRecord>> ListVolumes(
      const VolumeFilter& filter, std::vector<SkippedRow>* skipped) override {
    std::string sql = absl::StrCat("SELECT ", kVolumeColumns,
                                   " FROM volumes WHERE 1=1");
    std::vector<SqlParam> p;
    auto add = [&](const char* column, std::string value) {
      p.push_back(std::move(value));
      absl::StrAppend(&sql, " AND ", column, " = $", p.size());
    };
    if (filter.host) add("host", *filter.host);
    if (filter.status) add("status", std::string(VolumeStatusName(*filter.status)));
    if (filter.encryption_key_id) add("encryption_key_id", *filter.encryption_key_id);
    if (filter.key_created_before) {
      p.push_back(*filter.key_created_before);
      absl::StrAppend(&sql, " AND key_created_at < $", p.size());
    }
    if (filter.location) {
      add("backend", std::string(BackendKindName(filter.location->kind)));
      if (filter.location->kind == BackendKind::kMapped) {
        add("path", filter.location->path);
      } else {
        add("pool", filter.location->pool);
        add("image", filter.location->image);
      }
    }
    sql += " ORDER BY id";
    VOLCRYPT_ASSIGN_OR_RETURN(SqlRows r, Run(sql, p));
    return ReadAll<VolumeRecord>(r, "volume", ReadVolume, skipped);
  }

  absl::Status UpdateVolume(const VolumeRecord& record,
                            VolumeStatus expected) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_RETURN_IF_ERROR(CheckVolumeText(record));
    // One statement: the status check and the write are atomic in both
    // databases without holding a transaction open. A recorded key id is
    // kept: it changes only through BeginKeyIdChange, so a caller holding a
    // copy read before such a change never writes the old id back.
    std::vector<SqlParam> p = VolumeParams(record);
    p.push_back(Now());
    p.push_back(std::string(VolumeStatusName(expected)));
    p.push_back(std::string(KeyFormatName(record.key_format)));
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r,
        Run("UPDATE volumes SET host = $2, backend = $3, path = $4, pool = $5, "
            "image = $6, size_bytes = $7, encrypted = $8, provider = $9, "
            "cipher = $10, key_size = $11, sector_size = $12, kdf = $13, "
            "engine = $14, encryption_key_id = CASE WHEN encryption_key_id = '' "
            "THEN $15 ELSE encryption_key_id END, user_id = $16, "
            "project_id = $17, status = $18, location_proof = $19, "
            "updated_at = $20, key_format = $22 WHERE id = $1 AND status = $21",
            p));
    if (r.changes > 0) return absl::OkStatus();
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord current, GetVolume(record.id));
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                      absl::StrCat("volume ", record.id, " is ",
                                   VolumeStatusName(current.status), ", not ",
                                   VolumeStatusName(expected)));
  }

  absl::Status DeleteVolume(const std::string& id) override {
    return RemoveVolume(id, /*release_key=*/false);
  }

  absl::Status ReleaseVolume(const std::string& id) override {
    return RemoveVolume(id, /*release_key=*/true);
  }

  // DeleteVolume and ReleaseVolume: one transaction, so a released key is
  // remembered exactly when its record goes.
  absl::Status RemoveVolume(const std::string& id, bool release_key) {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(auto tx, SqlTransaction::Begin(*db_));
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows snaps,
        Run("SELECT COUNT(*) FROM snapshots WHERE volume_id = $1", {id}));
    if (snaps.Int(0, 0) > 0) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOTEMPTY,
                        absl::StrCat("volume ", ShownId(id), " still has ",
                                     snaps.Int(0, 0), " snapshot(s)"));
    }
    if (release_key) {
      VOLCRYPT_RETURN_IF_ERROR(
          Run("INSERT INTO released_keys (key_id, volume_id, released_at) "
              "SELECT encryption_key_id, id, $2 FROM volumes "
              "WHERE id = $1 AND encryption_key_id <> '' "
              "ON CONFLICT (key_id) DO NOTHING",
              {id, Now()})
              .status());
    }
    VOLCRYPT_ASSIGN_OR_RETURN(SqlRows r,
                              Run("DELETE FROM volumes WHERE id = $1", {id}));
    if (r.changes == 0) return NoVolume(id);
    return tx->Commit();
  }

  // The snapshot takes its volume's key id from the volume's row in the
  // same statement, not from `snap`: a copy read before a key id change
  // cannot leave it on the old key.
  absl::Status CreateSnapshot(const SnapshotRecord& snap) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_RETURN_IF_ERROR(CheckSnapshotText(snap));
    absl::StatusOr<SqlRows> r =
        Run(absl::StrCat("INSERT INTO snapshots (", kSnapshotColumns,
                         ") SELECT $1, id, encryption_key_id, $3, $4 FROM volumes "
                         "WHERE id = $2"),
            {snap.id, snap.volume_id, snap.status, Now()});
    VOLCRYPT_RETURN_IF_ERROR(
        Exists(r.status(), absl::StrCat("snapshot ", snap.id, " already exists")));
    return r->changes == 0 ? NoVolume(snap.volume_id) : absl::OkStatus();
  }

  absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(
      const std::string& volume_id, std::vector<SkippedRow>* skipped) override {
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r, Run(absl::StrCat("SELECT ", kSnapshotColumns,
                                    " FROM snapshots WHERE volume_id = $1 "
                                    "OR $1 = '' ORDER BY id"), {volume_id}));
    return ReadAll<SnapshotRecord>(r, "snapshot", ReadSnapshot, skipped);
  }

  absl::Status DeleteSnapshot(const std::string& id) override {
    return DeleteById("snapshots", "snapshot", id);
  }

  absl::Status CreateBackup(const BackupRecord& b) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_RETURN_IF_ERROR(CheckBackupText(b));
    return Exists(
        Run(absl::StrCat("INSERT INTO backups (", kBackupColumns,
                         ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"),
            {b.id, b.volume_id, b.host, b.encryption_key_id, b.user_id,
             b.project_id, b.status, Now()}).status(),
        absl::StrCat("backup ", b.id, " already exists"));
  }

  absl::StatusOr<std::vector<BackupRecord>> ListBackups(
      const std::string& host, std::vector<SkippedRow>* skipped) override {
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r, Run(absl::StrCat("SELECT ", kBackupColumns,
                                    " FROM backups WHERE host = $1 OR $1 = '' "
                                    "ORDER BY id"), {host}));
    return ReadAll<BackupRecord>(r, "backup", ReadBackup, skipped);
  }

  absl::Status DeleteBackup(const std::string& id) override {
    return DeleteById("backups", "backup", id);
  }

  absl::Status CreateAttachment(const AttachmentRecord& a) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_RETURN_IF_ERROR(CheckAttachmentText(a));
    std::vector<SqlParam> p = AttachmentParams(a);
    p.push_back(Now());
    p.push_back(a.secret_uuid);
    return Exists(
        Run(absl::StrCat("INSERT INTO attachments (", kAttachmentColumns,
                         ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"), p).status(),
        absl::StrCat("volume ", a.volume_id,
                     " already has an attachment, or does not exist"));
  }

  absl::StatusOr<AttachmentRecord> GetAttachment(
      const std::string& volume_id) override {
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r, Run(absl::StrCat("SELECT ", kAttachmentColumns,
                                    " FROM attachments WHERE volume_id = $1"),
                       {volume_id}));
    if (r.empty()) return NotAttached(volume_id);
    AttachmentRecord a;
    const std::string why = ReadAttachment(r, 0, &a);
    if (!why.empty()) return Unreadable("attachment of volume", volume_id, why);
    return a;
  }

  absl::Status UpdateAttachment(const AttachmentRecord& a) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_RETURN_IF_ERROR(CheckAttachmentText(a));
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r,
        Run("UPDATE attachments SET host = $2, domain = $3, target_dev = $4, "
            "live = $5, config = $6, status = $7 WHERE volume_id = $1",
            AttachmentParams(a)));
    return r.changes == 0 ? NotAttached(a.volume_id) : absl::OkStatus();
  }

  absl::Status SetAttachmentSecret(const std::string& volume_id, const std::string& from,
                                   const std::string& to) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r, Run("UPDATE attachments SET secret_uuid = $3 "
                       "WHERE volume_id = $1 AND secret_uuid = $2",
                       {volume_id, from, to}));
    if (r.changes != 0) return absl::OkStatus();
    VOLCRYPT_ASSIGN_OR_RETURN(AttachmentRecord now, GetAttachment(volume_id));
    if (now.secret_uuid == to) return absl::OkStatus();
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                      absl::StrCat("attachment of volume ", volume_id,
                                   " names another libvirt secret"));
  }

  absl::Status DeleteAttachment(const std::string& volume_id) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r,
        Run("DELETE FROM attachments WHERE volume_id = $1", {volume_id}));
    return r.changes == 0 ? NotAttached(volume_id) : absl::OkStatus();
  }

  absl::StatusOr<int> CountKeyReferences(const std::string& key_id) override {
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r,
        Run("SELECT (SELECT COUNT(*) FROM volumes WHERE encryption_key_id = $1)"
            " + (SELECT COUNT(*) FROM snapshots WHERE encryption_key_id = $1)"
            " + (SELECT COUNT(*) FROM backups WHERE encryption_key_id = $1)"
            " + (SELECT COUNT(*) FROM released_keys WHERE key_id = $1)"
            " + (SELECT COUNT(*) FROM conversions WHERE key_id = $1)",
            {key_id}));
    return static_cast<int>(r.Int(0, 0));
  }

  absl::StatusOr<std::unique_ptr<KeyIdChange>> BeginKeyIdChange(
      KeyHolderKind kind, const std::string& id,
      const std::string& expected_key_id) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    return BeginSqlKeyIdChange(*db_, mu_, kind, id, expected_key_id, claims_);
  }

  absl::Status BeginKeyRotation(const std::string& id, VolumeStatus expected,
                                int64_t key_created_before) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r,
        Run("UPDATE volumes SET status = 'rekeying', rekey_key_id = '', "
            "updated_at = $2 WHERE id = $1 AND status = $3 AND key_created_at < $4",
            {id, Now(), std::string(VolumeStatusName(expected)), key_created_before}));
    if (r.changes > 0) return absl::OkStatus();
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord current, GetVolume(id));
    if (current.status == expected) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EALREADY,
                        absl::StrCat("volume ", id, ": its key was made at ",
                                     current.key_created_at, ", not before ",
                                     key_created_before, " (already rotated)"));
    }
    return RotationState(current, VolumeStatusName(expected));
  }

  absl::Status SetRotationKey(const std::string& id, const std::string& expected,
                              const std::string& key_id) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_RETURN_IF_ERROR(CheckText("volume", "rekey_key_id", key_id, kKeyIdRule));
    return RotationUpdate(id, "UPDATE volumes SET rekey_key_id = $2, updated_at = $3 "
                              "WHERE id = $1 AND status = 'rekeying' AND rekey_key_id = $4",
                          {id, key_id, Now(), expected});
  }

  absl::Status SwapRotationKey(const std::string& id, const std::string& recorded,
                               const std::string& other) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    // Both right-hand sides read the row as it was (standard SQL, and what
    // SQLite and PostgreSQL do), so the two ids trade places.
    return RotationUpdate(
        id, "UPDATE volumes SET encryption_key_id = rekey_key_id, "
            "rekey_key_id = encryption_key_id, key_created_at = $2, updated_at = $2 "
            "WHERE id = $1 AND status = 'rekeying' AND encryption_key_id = $3 "
            "AND rekey_key_id = $4 AND rekey_key_id <> ''",
        {id, Now(), recorded, other});
  }

  absl::Status EndKeyRotation(const std::string& id, VolumeStatus to) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    return RotationUpdate(id, "UPDATE volumes SET status = $2, rekey_key_id = '', "
                              "updated_at = $3 WHERE id = $1 AND status = 'rekeying'",
                          {id, std::string(VolumeStatusName(to)), Now()});
  }

  absl::Status BeginConversion(const ConversionRecord& c,
                               VolumeStatus expected) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    return SqlBeginConversion(*db_, mu_, c, expected);
  }
  absl::StatusOr<ConversionRecord> GetConversion(const std::string& volume_id) override {
    return SqlGetConversion(*db_, mu_, volume_id);
  }
  absl::Status UpdateConversion(const ConversionRecord& c) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    return SqlUpdateConversion(*db_, mu_, c);
  }
  absl::Status SwapConversion(const std::string& volume_id) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    return SqlSwapConversion(*db_, mu_, volume_id);
  }
  absl::Status EndConversion(const std::string& volume_id, VolumeStatus to) override {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    return SqlEndConversion(*db_, mu_, volume_id, to);
  }

 private:
  absl::Status RotationState(const VolumeRecord& current, absl::string_view wanted) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                      absl::StrCat("volume ", current.id, " is ",
                                   VolumeStatusName(current.status), ", not ", wanted));
  }

  absl::Status RotationUpdate(const std::string& id, const std::string& sql,
                              const std::vector<SqlParam>& p) {
    VOLCRYPT_ASSIGN_OR_RETURN(SqlRows r, Run(sql, p));
    if (r.changes > 0) return absl::OkStatus();
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord current, GetVolume(id));
    return RotationState(current, "rekeying with the key ids this step expects");
  }

 private:
  absl::Status Writable() const {
    return read_only_ ? ReadOnly() : absl::OkStatus();
  }

  absl::StatusOr<SqlRows> Run(const std::string& sql,
                              const std::vector<SqlParam>& params) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return db_->Run(sql, params);
  }

  // The rows of `r` that `read` can read; the others are reported.
  template <typename T, typename Reader>
  std::vector<T> ReadAll(const SqlRows& r, absl::string_view kind, Reader read,
                         std::vector<SkippedRow>* skipped) {
    std::vector<T> out;
    for (size_t i = 0; i < r.rows.size(); ++i) {
      T record;
      std::string why = read(r, i, &record);
      if (why.empty()) {
        out.push_back(std::move(record));
        continue;
      }
      SkippedRow row{std::string(kind), ShownId(r.Text(i, 0)), std::move(why)};
      log_->Log(LogLevel::kWarning,
                absl::StrCat("volume database: left out unreadable ", row.kind,
                             " ", row.id, ": ", row.reason));
      if (skipped) skipped->push_back(std::move(row));
    }
    return out;
  }

  absl::Status DeleteById(const std::string& table, const std::string& noun,
                          const std::string& id) {
    VOLCRYPT_RETURN_IF_ERROR(Writable());
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqlRows r, Run(absl::StrCat("DELETE FROM ", table, " WHERE id = $1"), {id}));
    if (r.changes == 0) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat(noun, " ", ShownId(id), " not found"));
    }
    return absl::OkStatus();
  }

  // One connection: a transaction must not interleave with another thread's
  // statements, so a thread holds mu_ for a whole transaction (recursive:
  // the transaction's own statements take it again).
  std::recursive_mutex mu_;
  std::unique_ptr<SqlConnection> db_;
  const bool read_only_;
  Logger* const log_;
  KeyClaimOptions claims_;
};

absl::StatusOr<std::unique_ptr<VolumeStore>> OpenStore(
    absl::StatusOr<std::unique_ptr<SqlConnection>> db,
    const VolumeStoreOptions& options, int lock_timeout_ms) {
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqlVolumeStore>(std::move(*db), options,
                                                lock_timeout_ms);
  VOLCRYPT_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<VolumeStore>(std::move(store));
}

}  // namespace

VolumeStore::~VolumeStore() = default;
KeyIdChange::~KeyIdChange() = default;

absl::Status VolumeStore::SetAttachmentSecret(const std::string&, const std::string&,
                                              const std::string&) {
  return absl::UnimplementedError("this store cannot change an attachment's secret");
}

absl::string_view KeyHolderKindName(KeyHolderKind kind) {
  return kind == KeyHolderKind::kVolume ? "volume" : "backup";
}

absl::string_view VolumeStatusName(VolumeStatus status) {
  switch (status) {
    case VolumeStatus::kCreating: return "creating";
    case VolumeStatus::kAvailable: return "available";
    case VolumeStatus::kAttaching: return "attaching";
    case VolumeStatus::kInUse: return "in-use";
    case VolumeStatus::kDetaching: return "detaching";
    case VolumeStatus::kExtending: return "extending";
    case VolumeStatus::kDeleting: return "deleting";
    case VolumeStatus::kError: return "error";
    case VolumeStatus::kManaging: return "managing";
    case VolumeStatus::kRekeying: return "rekeying";
    case VolumeStatus::kMigrating: return "migrating";
    case VolumeStatus::kConverting: return "converting";
  }
  return "error";
}

absl::StatusOr<VolumeStatus> ParseVolumeStatus(absl::string_view name) {
  for (VolumeStatus s :
       {VolumeStatus::kCreating, VolumeStatus::kAvailable,
        VolumeStatus::kAttaching, VolumeStatus::kInUse,
        VolumeStatus::kDetaching, VolumeStatus::kExtending,
        VolumeStatus::kDeleting, VolumeStatus::kError,
        VolumeStatus::kManaging, VolumeStatus::kRekeying,
        VolumeStatus::kMigrating, VolumeStatus::kConverting}) {
    if (VolumeStatusName(s) == name) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("volume status '", name, "' is not known"));
}

absl::string_view KeyFormatName(KeyFormat format) {
  return format == KeyFormat::kPassphrase ? "passphrase" : "hex";
}

absl::StatusOr<KeyFormat> ParseKeyFormat(absl::string_view name) {
  if (name == "hex") return KeyFormat::kHex;
  if (name == "passphrase") return KeyFormat::kPassphrase;
  return absl::InvalidArgumentError(
      absl::StrCat("key format '", name, "' is not known"));
}

absl::StatusOr<std::unique_ptr<VolumeStore>> OpenSqliteVolumeStore(
    const std::string& path, const VolumeStoreOptions& options) {
  const int timeout_ms = options.lock_timeout_ms > 0 ? options.lock_timeout_ms : 10000;
  return OpenStore(OpenSqliteConnection(path, options.read_only, timeout_ms),
                   options, timeout_ms);
}

absl::StatusOr<std::unique_ptr<VolumeStore>> OpenSqliteVolumeStore(
    const std::string& path) {
  return OpenSqliteVolumeStore(path, VolumeStoreOptions());
}

absl::StatusOr<std::unique_ptr<VolumeStore>> OpenPostgresVolumeStore(
    const std::string& conninfo, const VolumeStoreOptions& options) {
  const int timeout_ms = options.lock_timeout_ms > 0 ? options.lock_timeout_ms : 30000;
  return OpenStore(OpenPostgresConnection(conninfo, timeout_ms, options.read_only),
                   options, timeout_ms);
}

absl::StatusOr<std::unique_ptr<VolumeStore>> OpenPostgresVolumeStore(
    const std::string& conninfo, int lock_timeout_ms) {
  VolumeStoreOptions options;
  options.lock_timeout_ms = lock_timeout_ms;
  return OpenPostgresVolumeStore(conninfo, options);
}

}  // namespace volcrypt
