#include "lib/store/record_rows.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/store/record_text.h"

namespace volcrypt {
namespace {

struct Field {
  const char* name;
  const std::string& value;
  const TextRule& rule;
};

absl::Status CheckFields(absl::string_view record,
                         std::initializer_list<Field> fields) {
  for (const Field& f : fields) {
    absl::Status s = CheckText(record, f.name, f.value, f.rule);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// The first text column of row `i` that breaks readers, as a reason.
std::string UnreadableColumns(
    const SqlRows& r, size_t i,
    std::initializer_list<std::pair<const char*, size_t>> columns) {
  for (const auto& [name, col] : columns) {
    std::string why = UnreadableText(name, r.Text(i, col));
    if (!why.empty()) return why;
  }
  return "";
}

// Parses an enum column; on failure sets `*why` (if still empty).
template <typename T, typename Parse>
void ParseEnum(const SqlRows& r, size_t i, size_t col, const char* name,
               Parse parse, T* out, std::string* why) {
  absl::StatusOr<T> v = parse(r.Text(i, col));
  if (v.ok()) {
    *out = *v;
  } else if (why->empty()) {
    *why = absl::StrCat(name, " ", QuoteForMessage(r.Text(i, col)),
                        " is not one this volcrypt knows");
  }
}

}  // namespace

absl::Status CheckVolumeText(const VolumeRecord& v) {
  return CheckFields(
      "volume", {{"id", v.id, kIdRule},
                 {"host", v.host, kHostRule},
                 {"path", v.location.path, kPathRule},
                 {"pool", v.location.pool, kPoolRule},
                 {"image", v.location.image, kPoolRule},
                 {"cipher", v.encryption.cipher, kWordRule},
                 {"encryption_key_id", v.encryption_key_id, kKeyIdRule},
                 {"user_id", v.user_id, kOwnerRule},
                 {"project_id", v.project_id, kOwnerRule},
                 {"location_proof", v.location_proof, kProofRule}});
}

absl::Status CheckSnapshotText(const SnapshotRecord& s) {
  return CheckFields("snapshot", {{"id", s.id, kIdRule},
                                  {"volume_id", s.volume_id, kIdRule},
                                  {"status", s.status, kWordRule}});
}

absl::Status CheckBackupText(const BackupRecord& b) {
  return CheckFields("backup",
                     {{"id", b.id, kIdRule},
                      {"volume_id", b.volume_id, kIdRule},
                      {"host", b.host, kHostRule},
                      {"encryption_key_id", b.encryption_key_id, kKeyIdRule},
                      {"user_id", b.user_id, kOwnerRule},
                      {"project_id", b.project_id, kOwnerRule},
                      {"status", b.status, kWordRule}});
}

absl::Status CheckAttachmentText(const AttachmentRecord& a) {
  return CheckFields("attachment",
                     {{"volume_id", a.volume_id, kIdRule},
                      {"host", a.host, kHostRule},
                      {"domain", a.domain, kDomainRule},
                      {"target_dev", a.target_dev, kWordRule},
                      {"status", a.status, kWordRule},
                      {"secret_uuid", a.secret_uuid, kKeyIdRule}});
}

std::vector<SqlParam> VolumeParams(const VolumeRecord& v) {
  return {v.id, v.host, std::string(BackendKindName(v.location.kind)),
          v.location.path, v.location.pool, v.location.image,
          static_cast<int64_t>(v.size_bytes),
          static_cast<int64_t>(v.encrypted ? 1 : 0),
          std::string(LuksFormatName(v.encryption.format)),
          v.encryption.cipher, static_cast<int64_t>(v.encryption.key_bits),
          static_cast<int64_t>(v.encryption.sector_size),
          std::string(KdfPolicyName(v.encryption.kdf)),
          std::string(EncryptionEngineName(v.encryption.engine)),
          v.encryption_key_id, v.user_id, v.project_id,
          std::string(VolumeStatusName(v.status)), v.location_proof};
}

std::vector<SqlParam> AttachmentParams(const AttachmentRecord& a) {
  return {a.volume_id, a.host, a.domain, a.target_dev,
          static_cast<int64_t>(a.live ? 1 : 0),
          static_cast<int64_t>(a.config ? 1 : 0), a.status};
}

std::string ReadVolume(const SqlRows& r, size_t i, VolumeRecord* out) {
  std::string why = UnreadableColumns(
      r, i, {{"id", 0}, {"host", 1}, {"path", 3}, {"pool", 4}, {"image", 5},
             {"cipher", 9}, {"encryption_key_id", 14}, {"user_id", 15},
             {"project_id", 16}, {"location_proof", 18}, {"rekey_key_id", 23}});
  VolumeRecord v;
  ParseEnum(r, i, 2, "backend", ParseBackendKind, &v.location.kind, &why);
  ParseEnum(r, i, 8, "provider", ParseLuksFormat, &v.encryption.format, &why);
  ParseEnum(r, i, 12, "kdf", ParseKdfPolicy, &v.encryption.kdf, &why);
  ParseEnum(r, i, 13, "engine", ParseEncryptionEngine, &v.encryption.engine, &why);
  ParseEnum(r, i, 17, "status", ParseVolumeStatus, &v.status, &why);
  ParseEnum(r, i, 21, "key_format", ParseKeyFormat, &v.key_format, &why);
  if (!why.empty()) return why;
  v.id = r.Text(i, 0);
  v.host = r.Text(i, 1);
  v.location.path = r.Text(i, 3);
  v.location.pool = r.Text(i, 4);
  v.location.image = r.Text(i, 5);
  v.size_bytes = static_cast<uint64_t>(r.Int(i, 6));
  v.encrypted = r.Int(i, 7) != 0;
  v.encryption.cipher = r.Text(i, 9);
  v.encryption.key_bits = static_cast<int>(r.Int(i, 10));
  v.encryption.sector_size = static_cast<uint32_t>(r.Int(i, 11));
  v.encryption_key_id = r.Text(i, 14);
  v.user_id = r.Text(i, 15);
  v.project_id = r.Text(i, 16);
  v.location_proof = r.Text(i, 18);
  v.created_at = r.Int(i, 19);
  v.updated_at = r.Int(i, 20);
  v.key_created_at = r.Int(i, 22);
  v.rekey_key_id = r.Text(i, 23);
  *out = std::move(v);
  return "";
}

std::string ReadSnapshot(const SqlRows& r, size_t i, SnapshotRecord* out) {
  std::string why = UnreadableColumns(
      r, i, {{"id", 0}, {"volume_id", 1}, {"encryption_key_id", 2}, {"status", 3}});
  if (!why.empty()) return why;
  *out = {r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Int(i, 4)};
  return "";
}

std::string ReadBackup(const SqlRows& r, size_t i, BackupRecord* out) {
  std::string why = UnreadableColumns(
      r, i, {{"id", 0}, {"volume_id", 1}, {"host", 2}, {"encryption_key_id", 3},
             {"user_id", 4}, {"project_id", 5}, {"status", 6}});
  if (!why.empty()) return why;
  *out = {r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3),
          r.Text(i, 4), r.Text(i, 5), r.Text(i, 6), r.Int(i, 7)};
  return "";
}

std::string ReadAttachment(const SqlRows& r, size_t i, AttachmentRecord* out) {
  std::string why = UnreadableColumns(
      r, i, {{"volume_id", 0}, {"host", 1}, {"domain", 2}, {"target_dev", 3},
             {"status", 6}, {"secret_uuid", 8}});
  if (!why.empty()) return why;
  *out = {r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3),
          r.Int(i, 4) != 0, r.Int(i, 5) != 0, r.Text(i, 6), r.Int(i, 7),
          r.Text(i, 8)};
  return "";
}

std::string ShownId(absl::string_view id) {
  if (id.size() <= 64 && CheckText("", "", id, kIdRule).ok()) {
    return std::string(id);
  }
  return QuoteForMessage(id);
}

}  // namespace volcrypt
