#include "lib/volumes/ownership.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/key_steps.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace flows {
namespace {

constexpr absl::string_view kLuksProof = "luks:";

bool SameLocation(const VolumeLocation& a, const VolumeLocation& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == BackendKind::kMapped) return a.path == b.path;
  return a.pool == b.pool && a.image == b.image;
}

// A record without a proof owns a LUKS header only if its key opens it.
absl::StatusOr<bool> KeyOpensHeader(const FlowContext& ctx, BlockBackend& backend,
                                    const VolumeRecord& record) {
  if (record.encryption_key_id.empty()) return false;
  absl::StatusOr<SecretBytes> passphrase = PassphraseOf(ctx, record);
  if (absl::IsNotFound(passphrase.status())) return false;
  if (!passphrase.ok()) return passphrase.status();
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage header,
                            backend.ReadLuksHeader(record.location));
  absl::StatusOr<int> slot = luks::VerifyPassphrase(header.path(), *passphrase);
  if (absl::IsPermissionDenied(slot.status())) return false;
  if (!slot.ok()) return slot.status();
  return true;
}

}  // namespace

absl::StatusOr<std::string> ProveLocation(const FlowContext& ctx,
                                          const VolumeRecord& record) {
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe, backend->Probe(record.location));
  if (probe.kind != luks::ContentKind::kLuks || probe.uuid.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        record.location.DebugString(), " holds no LUKS header to prove"));
  }
  return absl::StrCat(kLuksProof, probe.uuid);
}

absl::StatusOr<Ownership> CheckOwnership(const FlowContext& ctx,
                                         const VolumeRecord& record) {
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  absl::StatusOr<luks::ContentProbe> probe = backend->Probe(record.location);
  if (absl::IsNotFound(probe.status())) return Ownership::kGone;
  if (!probe.ok()) return probe.status();
  switch (probe->kind) {
    case luks::ContentKind::kNoSignature:
      return record.location_proof.empty() ? Ownership::kOwned : Ownership::kNotOurs;
    case luks::ContentKind::kOtherSignature:
      return Ownership::kNotOurs;
    case luks::ContentKind::kLuks:
      break;
  }
  if (!record.location_proof.empty()) {
    return record.location_proof == absl::StrCat(kLuksProof, probe->uuid)
               ? Ownership::kOwned
               : Ownership::kNotOurs;
  }
  VOLCRYPT_ASSIGN_OR_RETURN(bool opens, KeyOpensHeader(ctx, *backend, record));
  return opens ? Ownership::kOwned : Ownership::kNotOurs;
}

absl::Status DeleteOwnedBacking(const FlowContext& ctx, const VolumeRecord& record) {
  VOLCRYPT_ASSIGN_OR_RETURN(Ownership owned, CheckOwnership(ctx, record));
  if (owned == Ownership::kGone) return absl::OkStatus();
  if (owned == Ownership::kNotOurs) {
    ctx.log->Log(LogLevel::kWarning,
                 absl::StrCat("volume ", record.id, ": ", record.location.DebugString(),
                              " no longer holds what this volume wrote; left alone"));
    return absl::OkStatus();
  }
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  return OkIfNotFound(backend->Delete(record.location));
}

absl::Status CheckNoRecordAt(const FlowContext& ctx, const VolumeLocation& where) {
  VolumeFilter at;
  at.location = where;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<VolumeRecord> named, ctx.store->ListVolumes(at));
  for (const VolumeRecord& other : named) {
    if (SameLocation(other.location, where)) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat(where.DebugString(), " is recorded for volume ",
                                     other.id, " (", VolumeStatusName(other.status),
                                     "); delete or reconcile it first"));
    }
  }
  return absl::OkStatus();
}

}  // namespace flows
}  // namespace volcrypt
