#include "lib/volumes/conversion_support.h"

#include <openssl/sha.h>

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/luks/volume_key.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/ownership.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {
namespace flows {
namespace {

absl::Status NotWhatTheRecordSays(const VolumeRecord& r, absl::string_view what) {
  return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                    absl::StrCat("volume ", r.id, ": ", r.location.DebugString(), " ", what,
                                 "; refusing to convert it"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RawVolume>> OpenRawAt(const FlowContext& ctx,
                                                     const VolumeLocation& where,
                                                     bool writable) {
  if (where.kind == BackendKind::kMapped) return OpenRawFile(where.path, writable);
  if (ctx.rbd_native == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(where.DebugString(), ": no rbd backend is configured"));
  }
  return ctx.rbd_native->OpenRaw(where, writable);
}

absl::StatusOr<std::string> PlainFingerprint(const FlowContext& ctx,
                                             const VolumeLocation& where) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<RawVolume> raw, OpenRawAt(ctx, where, false));
  std::vector<uint8_t> head(std::min<uint64_t>(raw->size(), 1 << 20));
  VOLCRYPT_RETURN_IF_ERROR(raw->Read(0, head.data(), head.size()));
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(head.data(), head.size(), digest);
  return absl::StrCat(
      "plain:", raw->size(), ":",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest),
                                               sizeof(digest))));
}

VolumeRecord OtherSide(const ConversionRecord& row) {
  VolumeRecord v;
  v.id = row.volume_id;
  v.location = row.other_location;
  v.encrypted = row.other_encrypted;
  v.encryption = row.other_encryption;
  v.encryption_key_id = row.other_key_id;
  v.key_format = row.other_key_format;
  v.location_proof = row.other_location_proof;
  v.status = VolumeStatus::kConverting;
  return v;
}

absl::StatusOr<PayloadSide> LoadPayloadSide(const FlowContext& ctx,
                                            const VolumeRecord& record) {
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, backend->Stat(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe, backend->Probe(record.location));
  PayloadSide side;
  if (!record.encrypted) {
    if (probe.kind == luks::ContentKind::kLuks) {
      return NotWhatTheRecordSays(record, "holds a LUKS header, but the record says plain");
    }
    if (stat.raw_bytes < record.size_bytes) {
      return NotWhatTheRecordSays(record, absl::StrCat("has ", stat.raw_bytes,
                                                       " bytes, not the recorded ",
                                                       record.size_bytes));
    }
    if (!record.location_proof.empty()) {
      VOLCRYPT_ASSIGN_OR_RETURN(std::string now, PlainFingerprint(ctx, record.location));
      if (now != record.location_proof) {
        return NotWhatTheRecordSays(record, "no longer holds what was recorded there");
      }
    }
    return side;
  }
  if (probe.kind != luks::ContentKind::kLuks) {
    return NotWhatTheRecordSays(record, "holds no LUKS header");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(Ownership owned, CheckOwnership(ctx, record));
  if (owned != Ownership::kOwned) {
    return NotWhatTheRecordSays(record, "holds a LUKS header this volume did not record");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage header,
                            backend->ReadLuksHeader(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksInfo info, luks::Inspect(header.path()));
  if (info.cipher != "aes-xts-plain64") {
    return ErrnoError(absl::StatusCode::kUnimplemented, ENOTSUP,
                      absl::StrCat("volume ", record.id, ": cipher ", info.cipher,
                                   " cannot be converted (aes-xts-plain64 only)"));
  }
  if (header.size() > stat.raw_bytes || stat.raw_bytes - header.size() < record.size_bytes) {
    return NotWhatTheRecordSays(record, "has less payload than the recorded size");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes passphrase, PassphraseOf(ctx, record));
  absl::StatusOr<SecretBytes> key = luks::ExtractVolumeKey(header.path(), passphrase);
  if (!key.ok()) return Annotate(key.status(), "volume " + record.id);
  side.volume_key = std::move(*key);
  side.payload_offset = header.size();
  side.sector_size = info.sector_size;
  return side;
}

}  // namespace flows
}  // namespace volcrypt
