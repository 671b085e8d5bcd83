#include <ctime>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "lib/store/sqlite_db.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace {

// Each entry upgrades the schema by one version; never edit a shipped entry.
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
      size_bytes INTEGER NOT NULL,
      encrypted INTEGER NOT NULL,
      provider TEXT NOT NULL,
      cipher TEXT NOT NULL,
      key_size INTEGER NOT NULL,
      sector_size INTEGER NOT NULL,
      kdf TEXT NOT NULL,
      engine TEXT NOT NULL,
      encryption_key_id TEXT NOT NULL DEFAULT '',
      user_id TEXT NOT NULL DEFAULT '',
      project_id TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL);
    CREATE INDEX volumes_by_key ON volumes(encryption_key_id);
    CREATE INDEX volumes_by_host ON volumes(host);
    CREATE TABLE snapshots (
      id TEXT PRIMARY KEY,
      volume_id TEXT NOT NULL REFERENCES volumes(id),
      encryption_key_id TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL);
    CREATE INDEX snapshots_by_volume ON snapshots(volume_id);
    CREATE TABLE backups (
      id TEXT PRIMARY KEY,
      volume_id TEXT NOT NULL,
      host TEXT NOT NULL,
      encryption_key_id TEXT NOT NULL DEFAULT '',
      user_id TEXT NOT NULL DEFAULT '',
      project_id TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL);
    )sql",
    // 2: attachments.
    R"sql(
    CREATE TABLE attachments (
      volume_id TEXT PRIMARY KEY REFERENCES volumes(id),
      host TEXT NOT NULL,
      domain TEXT NOT NULL,
      target_dev TEXT NOT NULL,
      live INTEGER NOT NULL,
      config INTEGER NOT NULL,
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL);
    )sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

constexpr char kVolumeColumns[] =
    "id, host, backend, path, pool, image, size_bytes, encrypted, provider, "
    "cipher, key_size, sector_size, kdf, engine, encryption_key_id, user_id, "
    "project_id, status, created_at, updated_at";

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

absl::StatusOr<VolumeRecord> ReadVolume(const SqliteStatement& row) {
  VolumeRecord v;
  v.id = row.Text(0);
  v.host = row.Text(1);
  VOLCRYPT_ASSIGN_OR_RETURN(v.location.kind, ParseBackendKind(row.Text(2)));
  v.location.path = row.Text(3);
  v.location.pool = row.Text(4);
  v.location.image = row.Text(5);
  v.size_bytes = static_cast<uint64_t>(row.Int(6));
  v.encrypted = row.Int(7) != 0;
  VOLCRYPT_ASSIGN_OR_RETURN(v.encryption.format, ParseLuksFormat(row.Text(8)));
  v.encryption.cipher = row.Text(9);
  v.encryption.key_bits = static_cast<int>(row.Int(10));
  v.encryption.sector_size = static_cast<uint32_t>(row.Int(11));
  VOLCRYPT_ASSIGN_OR_RETURN(v.encryption.kdf, ParseKdfPolicy(row.Text(12)));
  VOLCRYPT_ASSIGN_OR_RETURN(v.encryption.engine,
                            ParseEncryptionEngine(row.Text(13)));
  v.encryption_key_id = row.Text(14);
  v.user_id = row.Text(15);
  v.project_id = row.Text(16);
  VOLCRYPT_ASSIGN_OR_RETURN(v.status, ParseVolumeStatus(row.Text(17)));
  v.created_at = row.Int(18);
  v.updated_at = row.Int(19);
  return v;
}

// Binds columns 1..20 in kVolumeColumns order.
void BindVolume(SqliteStatement& s, const VolumeRecord& v, int64_t created,
                int64_t updated) {
  s.Bind(1, v.id).Bind(2, v.host)
      .Bind(3, std::string(BackendKindName(v.location.kind)))
      .Bind(4, v.location.path).Bind(5, v.location.pool)
      .Bind(6, v.location.image)
      .Bind(7, static_cast<int64_t>(v.size_bytes))
      .Bind(8, static_cast<int64_t>(v.encrypted ? 1 : 0))
      .Bind(9, std::string(LuksFormatName(v.encryption.format)))
      .Bind(10, v.encryption.cipher)
      .Bind(11, static_cast<int64_t>(v.encryption.key_bits))
      .Bind(12, static_cast<int64_t>(v.encryption.sector_size))
      .Bind(13, std::string(KdfPolicyName(v.encryption.kdf)))
      .Bind(14, std::string(EncryptionEngineName(v.encryption.engine)))
      .Bind(15, v.encryption_key_id).Bind(16, v.user_id)
      .Bind(17, v.project_id)
      .Bind(18, std::string(VolumeStatusName(v.status)))
      .Bind(19, created).Bind(20, updated);
}

// Binds an attachment's columns 1..7 (volume_id first).
SqliteStatement& BindAttachment(SqliteStatement& s, const AttachmentRecord& a) {
  return s.Bind(1, a.volume_id).Bind(2, a.host).Bind(3, a.domain)
      .Bind(4, a.target_dev).Bind(5, static_cast<int64_t>(a.live ? 1 : 0))
      .Bind(6, static_cast<int64_t>(a.config ? 1 : 0)).Bind(7, a.status);
}

class SqliteVolumeStore final : public VolumeStore {
 public:
  explicit SqliteVolumeStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  absl::Status Migrate() {
    VOLCRYPT_RETURN_IF_ERROR(db_->Exec("PRAGMA journal_mode=WAL"));
    VOLCRYPT_RETURN_IF_ERROR(db_->Exec("PRAGMA synchronous=FULL"));
    VOLCRYPT_RETURN_IF_ERROR(db_->Exec("PRAGMA foreign_keys=ON"));
    VOLCRYPT_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db_));
    VOLCRYPT_ASSIGN_OR_RETURN(SqliteStatement q, db_->Prepare("PRAGMA user_version"));
    VOLCRYPT_ASSIGN_OR_RETURN(bool row, q.Step());
    const int version = row ? static_cast<int>(q.Int(0)) : 0;
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "volume database has schema version ", version,
          "; this volcrypt knows up to ", kSchemaVersion));
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      VOLCRYPT_RETURN_IF_ERROR(db_->Exec(kMigrations[v]));
    }
    VOLCRYPT_RETURN_IF_ERROR(
        db_->Exec(absl::StrCat("PRAGMA user_version=", kSchemaVersion)));
    return tx->Commit();
  }

  absl::Status CreateVolume(const VolumeRecord& record) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(record.id));
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare(absl::StrCat("INSERT INTO volumes (", kVolumeColumns,
                                  ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")));
    const int64_t now = Now();
    BindVolume(s, record, now, now);
    absl::Status r = s.Run();
    if (r.code() == absl::StatusCode::kAlreadyExists) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat("volume ", record.id, " already exists"));
    }
    return r;
  }

  absl::StatusOr<VolumeRecord> GetVolume(const std::string& id) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare(absl::StrCat("SELECT ", kVolumeColumns,
                                  " FROM volumes WHERE id = ?")));
    s.Bind(1, id);
    VOLCRYPT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NoVolume(id);
    return ReadVolume(s);
  }

  absl::StatusOr<std::vector<VolumeRecord>> ListVolumes(
      const VolumeFilter& filter) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    std::string sql = absl::StrCat("SELECT ", kVolumeColumns,
                                   " FROM volumes WHERE 1=1");
    if (filter.host) sql += " AND host = ?1";
    if (filter.status) sql += " AND status = ?2";
    if (filter.encryption_key_id) sql += " AND encryption_key_id = ?3";
    sql += " ORDER BY id";
    VOLCRYPT_ASSIGN_OR_RETURN(SqliteStatement s, db_->Prepare(sql));
    if (filter.host) s.Bind(1, *filter.host);
    if (filter.status) s.Bind(2, std::string(VolumeStatusName(*filter.status)));
    if (filter.encryption_key_id) s.Bind(3, *filter.encryption_key_id);
    std::vector<VolumeRecord> out;
    for (;;) {
      VOLCRYPT_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord v, ReadVolume(s));
      out.push_back(std::move(v));
    }
    return out;
  }

  absl::Status UpdateVolume(const VolumeRecord& record,
                            VolumeStatus expected) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db_));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord current, GetVolume(record.id));
    if (current.status != expected) {
      return ErrnoError(
          absl::StatusCode::kFailedPrecondition, EBUSY,
          absl::StrCat("volume ", record.id, " is ",
                       VolumeStatusName(current.status), ", not ",
                       VolumeStatusName(expected)));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare(absl::StrCat("REPLACE INTO volumes (", kVolumeColumns,
                                  ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")));
    BindVolume(s, record, current.created_at, Now());
    VOLCRYPT_RETURN_IF_ERROR(s.Run());
    return tx->Commit();
  }

  absl::Status DeleteVolume(const std::string& id) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db_));
    VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps, ListSnapshots(id));
    if (!snaps.empty()) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOTEMPTY,
                        absl::StrCat("volume ", id, " still has ", snaps.size(),
                                     " snapshot(s)"));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(SqliteStatement s,
                              db_->Prepare("DELETE FROM volumes WHERE id = ?"));
    s.Bind(1, id);
    VOLCRYPT_RETURN_IF_ERROR(s.Run());
    if (db_->Changes() == 0) return NoVolume(id);
    return tx->Commit();
  }

  absl::Status CreateSnapshot(const SnapshotRecord& snap) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(snap.id));
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("INSERT INTO snapshots (id, volume_id, encryption_key_id, "
                     "status, created_at) VALUES (?,?,?,?,?)"));
    s.Bind(1, snap.id).Bind(2, snap.volume_id).Bind(3, snap.encryption_key_id)
        .Bind(4, snap.status).Bind(5, Now());
    absl::Status r = s.Run();
    if (r.code() == absl::StatusCode::kAlreadyExists) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat("snapshot ", snap.id, " already exists, or "
                                     "volume ", snap.volume_id, " does not"));
    }
    return r;
  }

  absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(
      const std::string& volume_id) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("SELECT id, volume_id, encryption_key_id, status, "
                     "created_at FROM snapshots WHERE volume_id = ? OR ? = '' "
                     "ORDER BY id"));
    s.Bind(1, volume_id).Bind(2, volume_id);
    std::vector<SnapshotRecord> out;
    for (;;) {
      VOLCRYPT_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)});
    }
    return out;
  }

  absl::Status DeleteSnapshot(const std::string& id) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return DeleteById("snapshots", "snapshot", id);
  }

  absl::Status CreateBackup(const BackupRecord& b) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(b.id));
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("INSERT INTO backups (id, volume_id, host, "
                     "encryption_key_id, user_id, project_id, status, "
                     "created_at) VALUES (?,?,?,?,?,?,?,?)"));
    s.Bind(1, b.id).Bind(2, b.volume_id).Bind(3, b.host)
        .Bind(4, b.encryption_key_id).Bind(5, b.user_id).Bind(6, b.project_id)
        .Bind(7, b.status).Bind(8, Now());
    absl::Status r = s.Run();
    if (r.code() == absl::StatusCode::kAlreadyExists) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat("backup ", b.id, " already exists"));
    }
    return r;
  }

  absl::StatusOr<std::vector<BackupRecord>> ListBackups(
      const std::string& host) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("SELECT id, volume_id, host, encryption_key_id, user_id, "
                     "project_id, status, created_at FROM backups "
                     "WHERE host = ? OR ? = '' ORDER BY id"));
    s.Bind(1, host).Bind(2, host);
    std::vector<BackupRecord> out;
    for (;;) {
      VOLCRYPT_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4),
                     s.Text(5), s.Text(6), s.Int(7)});
    }
    return out;
  }

  absl::Status DeleteBackup(const std::string& id) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return DeleteById("backups", "backup", id);
  }

  absl::Status CreateAttachment(const AttachmentRecord& a) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("INSERT INTO attachments (volume_id, host, domain, "
                     "target_dev, live, config, status, created_at) "
                     "VALUES (?,?,?,?,?,?,?,?)"));
    BindAttachment(s, a).Bind(8, Now());
    absl::Status r = s.Run();
    if (r.code() == absl::StatusCode::kAlreadyExists) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat("volume ", a.volume_id, " already has an "
                                     "attachment, or does not exist"));
    }
    return r;
  }

  absl::StatusOr<AttachmentRecord> GetAttachment(
      const std::string& volume_id) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("SELECT volume_id, host, domain, target_dev, live, config, "
                     "status, created_at FROM attachments WHERE volume_id = ?"));
    s.Bind(1, volume_id);
    VOLCRYPT_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat("volume ", volume_id, " is not attached"));
    }
    return AttachmentRecord{s.Text(0), s.Text(1), s.Text(2), s.Text(3),
                            s.Int(4) != 0, s.Int(5) != 0, s.Text(6), s.Int(7)};
  }

  absl::Status UpdateAttachment(const AttachmentRecord& a) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("UPDATE attachments SET host = ?2, domain = ?3, "
                     "target_dev = ?4, live = ?5, config = ?6, status = ?7 "
                     "WHERE volume_id = ?1"));
    BindAttachment(s, a);
    VOLCRYPT_RETURN_IF_ERROR(s.Run());
    if (db_->Changes() == 0) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat("volume ", a.volume_id, " is not attached"));
    }
    return absl::OkStatus();
  }

  absl::Status DeleteAttachment(const std::string& volume_id) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("DELETE FROM attachments WHERE volume_id = ?"));
    s.Bind(1, volume_id);
    VOLCRYPT_RETURN_IF_ERROR(s.Run());
    if (db_->Changes() == 0) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat("volume ", volume_id, " is not attached"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> CountKeyReferences(const std::string& key_id) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare("SELECT (SELECT COUNT(*) FROM volumes WHERE encryption_key_id = ?1)"
                     " + (SELECT COUNT(*) FROM snapshots WHERE encryption_key_id = ?1)"
                     " + (SELECT COUNT(*) FROM backups WHERE encryption_key_id = ?1)"));
    s.Bind(1, key_id);
    VOLCRYPT_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? static_cast<int>(s.Int(0)) : 0;
  }

 private:
  static absl::Status CheckVolumeId(const std::string& id) {
    if (id.empty() || id.size() > 255) {
      return absl::InvalidArgumentError("record id must be 1 to 255 bytes");
    }
    return absl::OkStatus();
  }

  static absl::Status NoVolume(const std::string& id) {
    return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                      absl::StrCat("volume ", id, " not found"));
  }

  absl::Status DeleteById(const std::string& table, const std::string& noun,
                          const std::string& id) {
    VOLCRYPT_ASSIGN_OR_RETURN(
        SqliteStatement s,
        db_->Prepare(absl::StrCat("DELETE FROM ", table, " WHERE id = ?")));
    s.Bind(1, id);
    VOLCRYPT_RETURN_IF_ERROR(s.Run());
    if (db_->Changes() == 0) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat(noun, " ", id, " not found"));
    }
    return absl::OkStatus();
  }

  // One connection: a transaction must not interleave with another thread's
  // statements. Recursive: UpdateVolume and DeleteVolume call readers.
  std::recursive_mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

VolumeStore::~VolumeStore() = default;

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
  }
  return "error";
}

absl::StatusOr<VolumeStatus> ParseVolumeStatus(absl::string_view name) {
  for (VolumeStatus s :
       {VolumeStatus::kCreating, VolumeStatus::kAvailable,
        VolumeStatus::kAttaching, VolumeStatus::kInUse,
        VolumeStatus::kDetaching, VolumeStatus::kExtending,
        VolumeStatus::kDeleting, VolumeStatus::kError}) {
    if (VolumeStatusName(s) == name) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("volume status '", name, "' is not known"));
}

absl::StatusOr<std::unique_ptr<VolumeStore>> OpenSqliteVolumeStore(
    const std::string& path) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  auto store = std::make_unique<SqliteVolumeStore>(std::move(db));
  VOLCRYPT_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<VolumeStore>(std::move(store));
}

}  // namespace volcrypt
