// How the store's records become statement parameters and come back from
// rows, with the text rules (volume_store.h, "Text fields") applied both
// ways: Check* before every write, Read* on every row read.
#ifndef VOLCRYPT_LIB_STORE_RECORD_ROWS_H_
#define VOLCRYPT_LIB_STORE_RECORD_ROWS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "lib/store/sql_connection.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {

// Column lists, in the order the parameters and readers below use.
inline constexpr char kVolumeColumns[] =
    "id, host, backend, path, pool, image, size_bytes, encrypted, provider, "
    "cipher, key_size, sector_size, kdf, engine, encryption_key_id, user_id, "
    "project_id, status, location_proof, created_at, updated_at, key_format, "
    "key_created_at, rekey_key_id";
inline constexpr char kSnapshotColumns[] =
    "id, volume_id, encryption_key_id, status, created_at";
inline constexpr char kBackupColumns[] =
    "id, volume_id, host, encryption_key_id, user_id, project_id, status, "
    "created_at";
inline constexpr char kAttachmentColumns[] =
    "volume_id, host, domain, target_dev, live, config, status, created_at, "
    "secret_uuid";

// InvalidArgument naming the first field that breaks its rule.
absl::Status CheckVolumeText(const VolumeRecord& v);
absl::Status CheckSnapshotText(const SnapshotRecord& s);
absl::Status CheckBackupText(const BackupRecord& b);
absl::Status CheckAttachmentText(const AttachmentRecord& a);

// $1..$19 in kVolumeColumns order (without the timestamps).
std::vector<SqlParam> VolumeParams(const VolumeRecord& v);
// $1..$7 (volume_id first; without created_at and secret_uuid).
std::vector<SqlParam> AttachmentParams(const AttachmentRecord& a);

// Each reads row `i` into `*out` and returns "", or returns why the row
// cannot be read (one line naming the field).
std::string ReadVolume(const SqlRows& r, size_t i, VolumeRecord* out);
std::string ReadSnapshot(const SqlRows& r, size_t i, SnapshotRecord* out);
std::string ReadBackup(const SqlRows& r, size_t i, BackupRecord* out);
std::string ReadAttachment(const SqlRows& r, size_t i, AttachmentRecord* out);

// A stored id as messages show it: as is when it is short printable ASCII,
// else quoted and escaped (QuoteForMessage).
std::string ShownId(absl::string_view id);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_STORE_RECORD_ROWS_H_
