// File: volcrypt/json.h
// -----------------------------------------------------------------------------
// JSON forms of volcrypt's records and LUKS header facts, with cinder's field
// names where cinder has the field (id, status, host, encrypted,
// encryption_key_id, user_id, project_id, created_at, ...). The CLI prints
// them and the C ABI returns them. They never hold key bytes.
//
//   std::string json = volcrypt::VolumeToJson(record);  // {"id": ..., ...}
#ifndef VOLCRYPT_JSON_H_
#define VOLCRYPT_JSON_H_

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "volcrypt/key_migration.h"
#include "volcrypt/luks.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {

// Pretty-printed with `indent` spaces (-1: one line).
std::string VolumeToJson(const VolumeRecord& v, int indent = 2);
std::string SnapshotToJson(const SnapshotRecord& s, int indent = 2);
std::string LuksInfoToJson(const luks::LuksInfo& info,
                                           int indent = 2);
// {"kind": "volume", "id": ..., "outcome": "migrated", "new_key_id": ...,
//  "snapshots": N, "adopted_secret": true, "duplicates_deleted": N,
//  "error": ...} (fields that do not apply are left out).
std::string KeyMigrationItemToJson(const KeyMigrationItem& item,
                                                   int indent = -1);
// {"host": ..., "not_started": ..., "migrated": N, "failed": N, "skipped": N,
//  "aborted": bool, "volumes_remaining": N, "backups_remaining": N,
//  "items": [...]} ("items" only when `with_items`).
std::string KeyMigrationReportToJson(const KeyMigrationReport& r,
                                                     bool with_items, int indent = -1);

// Appends VolumeToJson(v, indent) to *out as if nested `depth` levels deep
// in a document pretty-printed with `indent` (inner lines indented
// (depth + 1) * indent), written straight from the record without a JSON
// tree.
void AppendVolumeJson(const VolumeRecord& v, int indent, int depth, std::string* out);
// Appends `records` as one JSON array: the bytes an array of their
// VolumeToJson values dumps as with `indent` ("[]" when empty). Calls
// `flush` (if set) with *out whenever it holds 64 KiB or more, so that a
// caller can write it out and clear it instead of holding the whole list.
void AppendVolumeListJson(const std::vector<VolumeRecord>& records, int indent,
                          const std::function<void(std::string*)>& flush, std::string* out);
// Streams that array and a newline to `os` in 64 KiB pieces. Returns
// whether `os` took it all.
bool WriteVolumeListJson(const std::vector<VolumeRecord>& records, int indent,
                         std::ostream& os);

}  // namespace volcrypt

#endif  // VOLCRYPT_JSON_H_
