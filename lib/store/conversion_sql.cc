#include "lib/store/conversion_sql.h"

#include <ctime>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/store/record_rows.h"
#include "lib/store/record_text.h"
#include "lib/util/status_macros.h"
#include "volcrypt/errors.h"

namespace volcrypt {

const char kConversionsMigration[] = R"sql(
    CREATE TABLE conversions (
      volume_id TEXT PRIMARY KEY REFERENCES volumes(id),
      phase TEXT NOT NULL,
      prior_status TEXT NOT NULL,
      online BIGINT NOT NULL,
      keep_source BIGINT NOT NULL,
      backend TEXT NOT NULL,
      path TEXT NOT NULL DEFAULT '',
      pool TEXT NOT NULL DEFAULT '',
      image TEXT NOT NULL DEFAULT '',
      encrypted BIGINT NOT NULL,
      provider TEXT NOT NULL,
      cipher TEXT NOT NULL,
      key_size BIGINT NOT NULL,
      sector_size BIGINT NOT NULL,
      kdf TEXT NOT NULL,
      engine TEXT NOT NULL,
      key_id TEXT NOT NULL DEFAULT '',
      key_format TEXT NOT NULL DEFAULT 'hex',
      location_proof TEXT NOT NULL DEFAULT '',
      copied_bytes BIGINT NOT NULL DEFAULT 0,
      owner TEXT NOT NULL DEFAULT '',
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL);
    CREATE INDEX conversions_by_key ON conversions(key_id);
    )sql";

namespace {

constexpr char kColumns[] =
    "volume_id, phase, prior_status, online, keep_source, backend, path, pool, "
    "image, encrypted, provider, cipher, key_size, sector_size, kdf, engine, "
    "key_id, key_format, location_proof, copied_bytes, owner, created_at, updated_at";

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

absl::Status Busy(const std::string& id, absl::string_view why) {
  return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                    absl::StrCat("volume ", ShownId(id), ": ", why));
}

// The destination (or source) side as a volume record, so that the volume
// rules check its text.
VolumeRecord AsRecord(const ConversionRecord& c) {
  VolumeRecord v;
  v.id = c.volume_id;
  v.location = c.other_location;
  v.encryption = c.other_encryption;
  v.encryption_key_id = c.other_key_id;
  v.location_proof = c.other_location_proof;
  return v;
}

absl::StatusOr<ConversionRecord> ReadRow(const SqlRows& r, const std::string& id) {
  ConversionRecord c;
  std::string why;
  for (size_t col : {6, 7, 8, 11, 16, 18, 20}) {
    if (why.empty()) why = UnreadableText("conversion field", r.Text(0, col));
  }
  auto parse = [&](auto parsed, auto* out, const char* name) {
    if (parsed.ok()) {
      *out = *parsed;
    } else if (why.empty()) {
      why = absl::StrCat("bad ", name);
    }
  };
  const std::string& phase = r.Text(0, 1);
  if (phase == "copying") {
    c.phase = ConversionPhase::kCopying;
  } else if (phase == "swapped") {
    c.phase = ConversionPhase::kSwapped;
  } else if (why.empty()) {
    why = "bad phase";
  }
  parse(ParseVolumeStatus(r.Text(0, 2)), &c.prior_status, "prior_status");
  parse(ParseBackendKind(r.Text(0, 5)), &c.other_location.kind, "backend");
  parse(ParseLuksFormat(r.Text(0, 10)), &c.other_encryption.format, "provider");
  parse(ParseKdfPolicy(r.Text(0, 14)), &c.other_encryption.kdf, "kdf");
  parse(ParseEncryptionEngine(r.Text(0, 15)), &c.other_encryption.engine, "engine");
  parse(ParseKeyFormat(r.Text(0, 17)), &c.other_key_format, "key_format");
  if (!why.empty()) {
    return absl::DataLossError(absl::StrCat("conversion of volume ", ShownId(id),
                                            " cannot be read: ", why));
  }
  c.volume_id = r.Text(0, 0);
  c.online = r.Int(0, 3) != 0;
  c.keep_source = r.Int(0, 4) != 0;
  c.other_location.path = r.Text(0, 6);
  c.other_location.pool = r.Text(0, 7);
  c.other_location.image = r.Text(0, 8);
  c.other_encrypted = r.Int(0, 9) != 0;
  c.other_encryption.cipher = r.Text(0, 11);
  c.other_encryption.key_bits = static_cast<int>(r.Int(0, 12));
  c.other_encryption.sector_size = static_cast<uint32_t>(r.Int(0, 13));
  c.other_key_id = r.Text(0, 16);
  c.other_location_proof = r.Text(0, 18);
  c.copied_bytes = static_cast<uint64_t>(r.Int(0, 19));
  c.owner = r.Text(0, 20);
  c.created_at = r.Int(0, 21);
  c.updated_at = r.Int(0, 22);
  return c;
}

absl::StatusOr<ConversionRecord> GetLocked(SqlConnection& db, const std::string& id) {
  VOLCRYPT_ASSIGN_OR_RETURN(
      SqlRows r, db.Run(absl::StrCat("SELECT ", kColumns,
                                     " FROM conversions WHERE volume_id = $1"),
                        {id}));
  if (r.empty()) {
    return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                      absl::StrCat("volume ", ShownId(id), " has no conversion"));
  }
  return ReadRow(r, id);
}

}  // namespace

absl::string_view ConversionPhaseName(ConversionPhase phase) {
  return phase == ConversionPhase::kSwapped ? "swapped" : "copying";
}

absl::Status SqlBeginConversion(SqlConnection& db, std::recursive_mutex& mu,
                                const ConversionRecord& c, VolumeStatus expected) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeText(AsRecord(c)));
  VOLCRYPT_RETURN_IF_ERROR(CheckText("conversion", "owner", c.owner, kProofRule));
  std::lock_guard<std::recursive_mutex> lock(mu);
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<SqlTransaction> tx, SqlTransaction::Begin(db));
  const int64_t now = Now();
  VOLCRYPT_ASSIGN_OR_RETURN(
      SqlRows u, db.Run("UPDATE volumes SET status = 'converting', updated_at = $2 "
                        "WHERE id = $1 AND status = $3",
                        {c.volume_id, now, std::string(VolumeStatusName(expected))}));
  if (u.changes == 0) {
    VOLCRYPT_ASSIGN_OR_RETURN(SqlRows r,
                              db.Run("SELECT status FROM volumes WHERE id = $1", {c.volume_id}));
    if (r.empty()) {
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                        absl::StrCat("volume ", ShownId(c.volume_id), " not found"));
    }
    return Busy(c.volume_id, absl::StrCat("is ", r.Text(0, 0), ", not ",
                                          VolumeStatusName(expected)));
  }
  const EncryptionSpec& e = c.other_encryption;
  absl::Status s =
      db.Run(absl::StrCat("INSERT INTO conversions (", kColumns,
                          ") VALUES ($1,'copying',$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,"
                          "$12,$13,$14,$15,$16,$17,$18,0,$20,$19,$19)"),
             {c.volume_id, std::string(VolumeStatusName(expected)),
              static_cast<int64_t>(c.online), static_cast<int64_t>(c.keep_source),
              std::string(BackendKindName(c.other_location.kind)), c.other_location.path,
              c.other_location.pool, c.other_location.image,
              static_cast<int64_t>(c.other_encrypted),
              std::string(LuksFormatName(e.format)), e.cipher,
              static_cast<int64_t>(e.key_bits), static_cast<int64_t>(e.sector_size),
              std::string(KdfPolicyName(e.kdf)), std::string(EncryptionEngineName(e.engine)),
              c.other_key_id, std::string(KeyFormatName(c.other_key_format)),
              c.other_location_proof, now, c.owner})
          .status();
  if (s.code() == absl::StatusCode::kAlreadyExists) {
    return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                      absl::StrCat("volume ", ShownId(c.volume_id),
                                   " already has a conversion"));
  }
  VOLCRYPT_RETURN_IF_ERROR(s);
  return tx->Commit();
}

absl::StatusOr<ConversionRecord> SqlGetConversion(SqlConnection& db,
                                                  std::recursive_mutex& mu,
                                                  const std::string& volume_id) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  return GetLocked(db, volume_id);
}

absl::Status SqlUpdateConversion(SqlConnection& db, std::recursive_mutex& mu,
                                 const ConversionRecord& c) {
  VOLCRYPT_RETURN_IF_ERROR(CheckVolumeText(AsRecord(c)));
  VOLCRYPT_RETURN_IF_ERROR(CheckText("conversion", "owner", c.owner, kProofRule));
  std::lock_guard<std::recursive_mutex> lock(mu);
  VOLCRYPT_ASSIGN_OR_RETURN(
      SqlRows r,
      db.Run("UPDATE conversions SET key_id = $2, location_proof = $3, "
             "copied_bytes = $4, updated_at = $5, owner = $6 WHERE volume_id = $1 AND "
             "phase = 'copying' AND (key_id = '' OR key_id = $2)",
             {c.volume_id, c.other_key_id, c.other_location_proof,
              static_cast<int64_t>(c.copied_bytes), Now(), c.owner}));
  if (r.changes > 0) return absl::OkStatus();
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord now, GetLocked(db, c.volume_id));
  return Busy(c.volume_id, absl::StrCat("its conversion is ", ConversionPhaseName(now.phase),
                                        " with key '", now.other_key_id, "'"));
}

absl::Status SqlSwapConversion(SqlConnection& db, std::recursive_mutex& mu,
                               const std::string& volume_id) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<SqlTransaction> tx, SqlTransaction::Begin(db));
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord c, GetLocked(db, volume_id));
  if (c.phase != ConversionPhase::kCopying || c.other_key_id.empty() ||
      c.other_location_proof.empty()) {
    return Busy(volume_id, "its conversion is not ready to swap");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(
      SqlRows r, db.Run(absl::StrCat("SELECT ", kVolumeColumns,
                                     " FROM volumes WHERE id = $1"), {volume_id}));
  VolumeRecord v;
  if (r.empty() || !ReadVolume(r, 0, &v).empty()) {
    return absl::DataLossError(absl::StrCat("volume ", ShownId(volume_id),
                                            " cannot be read for its swap"));
  }
  if (v.status != VolumeStatus::kConverting) {
    return Busy(volume_id, absl::StrCat("is ", VolumeStatusName(v.status), ", not converting"));
  }
  const int64_t now = Now();
  const EncryptionSpec& e = c.other_encryption;
  VOLCRYPT_RETURN_IF_ERROR(
      db.Run("UPDATE volumes SET backend = $2, path = $3, pool = $4, image = $5, "
             "encrypted = $6, provider = $7, cipher = $8, key_size = $9, "
             "sector_size = $10, kdf = $11, engine = $12, encryption_key_id = $13, "
             "key_format = $14, location_proof = $15, key_created_at = $16, "
             "updated_at = $16 WHERE id = $1 AND status = 'converting'",
             {volume_id, std::string(BackendKindName(c.other_location.kind)),
              c.other_location.path, c.other_location.pool, c.other_location.image,
              static_cast<int64_t>(c.other_encrypted), std::string(LuksFormatName(e.format)),
              e.cipher, static_cast<int64_t>(e.key_bits), static_cast<int64_t>(e.sector_size),
              std::string(KdfPolicyName(e.kdf)), std::string(EncryptionEngineName(e.engine)),
              c.other_key_id, std::string(KeyFormatName(c.other_key_format)),
              c.other_location_proof, now})
          .status());
  const EncryptionSpec& o = v.encryption;
  VOLCRYPT_RETURN_IF_ERROR(
      db.Run("UPDATE conversions SET phase = 'swapped', backend = $2, path = $3, "
             "pool = $4, image = $5, encrypted = $6, provider = $7, cipher = $8, "
             "key_size = $9, sector_size = $10, kdf = $11, engine = $12, key_id = $13, "
             "key_format = $14, location_proof = $15, updated_at = $16 "
             "WHERE volume_id = $1",
             {volume_id, std::string(BackendKindName(v.location.kind)), v.location.path,
              v.location.pool, v.location.image, static_cast<int64_t>(v.encrypted),
              std::string(LuksFormatName(o.format)), o.cipher,
              static_cast<int64_t>(o.key_bits), static_cast<int64_t>(o.sector_size),
              std::string(KdfPolicyName(o.kdf)), std::string(EncryptionEngineName(o.engine)),
              v.encryption_key_id, std::string(KeyFormatName(v.key_format)),
              v.location_proof, now})
          .status());
  return tx->Commit();
}

absl::Status SqlEndConversion(SqlConnection& db, std::recursive_mutex& mu,
                              const std::string& volume_id, VolumeStatus to) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<SqlTransaction> tx, SqlTransaction::Begin(db));
  VOLCRYPT_RETURN_IF_ERROR(
      db.Run("DELETE FROM conversions WHERE volume_id = $1", {volume_id}).status());
  VOLCRYPT_ASSIGN_OR_RETURN(
      SqlRows r, db.Run("UPDATE volumes SET status = $2, updated_at = $3 "
                        "WHERE id = $1 AND status = 'converting'",
                        {volume_id, std::string(VolumeStatusName(to)), Now()}));
  if (r.changes == 0) return Busy(volume_id, "is not converting");
  return tx->Commit();
}

// The defaults of stores that predate conversions.
absl::Status VolumeStore::BeginConversion(const ConversionRecord&, VolumeStatus) {
  return absl::UnimplementedError("this volume store has no conversions");
}
absl::StatusOr<ConversionRecord> VolumeStore::GetConversion(const std::string&) {
  return absl::UnimplementedError("this volume store has no conversions");
}
absl::Status VolumeStore::UpdateConversion(const ConversionRecord&) {
  return absl::UnimplementedError("this volume store has no conversions");
}
absl::Status VolumeStore::SwapConversion(const std::string&) {
  return absl::UnimplementedError("this volume store has no conversions");
}
absl::Status VolumeStore::EndConversion(const std::string&, VolumeStatus) {
  return absl::UnimplementedError("this volume store has no conversions");
}

}  // namespace volcrypt
