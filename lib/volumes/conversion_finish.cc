// The swap, the finish, the undo and Reconcile's rule for a conversion
// (conversion.h).
#include <ctime>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/conversion.h"
#include "lib/volumes/conversion_support.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/online_plain.h"
#include "lib/volumes/ownership.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace flows {
namespace {

// Deletes the old (plain or encrypted) location of a swapped row, after
// checking it still holds what the volume recorded there.
absl::Status DeleteOldSide(const FlowContext& ctx, const VolumeRecord& old) {
  if (old.encrypted || !absl::StartsWith(old.location_proof, "plain:")) {
    return DeleteOwnedBacking(ctx, old);
  }
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(old.location));
  absl::StatusOr<std::string> now = PlainFingerprint(ctx, old.location);
  if (absl::IsNotFound(now.status())) return absl::OkStatus();
  if (!now.ok()) return now.status();
  if (*now != old.location_proof) {
    ctx.log->Log(LogLevel::kWarning,
                 absl::StrCat("volume ", old.id, ": ", old.location.DebugString(),
                              " no longer holds the plain volume converted from it; "
                              "left alone"));
    return absl::OkStatus();
  }
  return OkIfNotFound(backend->Delete(old.location));
}

}  // namespace

absl::StatusOr<VolumeRecord> SwapConversion(const FlowContext& ctx,
                                            const std::string& volume_id) {
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->SwapConversion(volume_id));
  return ctx.store->GetVolume(volume_id);
}

absl::Status FinishConversion(const FlowContext& ctx, const std::string& volume_id) {
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord row, ctx.store->GetConversion(volume_id));
  if (row.phase != ConversionPhase::kSwapped) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                      absl::StrCat("volume ", volume_id, ": its conversion is not swapped"));
  }
  const VolumeRecord old = OtherSide(row);
  const std::string what = "finish the conversion of volume " + volume_id;
  if (!row.keep_source) {
    VOLCRYPT_RETURN_IF_ERROR(Annotate(DeleteOldSide(ctx, old), what));
    if (!old.encryption_key_id.empty()) {
      // The row itself is one reference; any other record keeps the key.
      VOLCRYPT_ASSIGN_OR_RETURN(int refs,
                                ctx.store->CountKeyReferences(old.encryption_key_id));
      if (refs <= 1) {
        VOLCRYPT_RETURN_IF_ERROR(
            Annotate(ForgetKey(ctx, volume_id, old.encryption_key_id), what));
      }
    }
  } else {
    ctx.log->Log(LogLevel::kInfo,
                 absl::StrCat("volume ", volume_id, ": kept the source ",
                              old.location.DebugString(),
                              old.encryption_key_id.empty()
                                  ? std::string(" (plain)")
                                  : absl::StrCat(" and its key ", old.encryption_key_id)));
  }
  // A plain volume encrypted online keeps the attachment it adopted.
  return ctx.store->EndConversion(
      volume_id, AdoptsAttachment(row) ? VolumeStatus::kInUse : row.prior_status);
}

absl::Status UndoConversion(const FlowContext& ctx, const std::string& volume_id) {
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord row, ctx.store->GetConversion(volume_id));
  if (row.phase != ConversionPhase::kCopying) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                      absl::StrCat("volume ", volume_id, ": its conversion is swapped"));
  }
  const std::string what = "undo the conversion of volume " + volume_id;
  const VolumeRecord dest = OtherSide(row);
  // The destination exists only once its key was recorded (step 3 < 4).
  if (!dest.encryption_key_id.empty()) {
    VOLCRYPT_RETURN_IF_ERROR(Annotate(DeleteOwnedBacking(ctx, dest), what));
    VOLCRYPT_RETURN_IF_ERROR(Annotate(ForgetKey(ctx, volume_id, dest.encryption_key_id), what));
  }
  // A key stored but never recorded (a kill, a lost answer), found by name.
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord source, ctx.store->GetVolume(volume_id));
  VOLCRYPT_RETURN_IF_ERROR(Annotate(ForgetKeysNamedFor(ctx, source), what));
  return ctx.store->EndConversion(volume_id, row.prior_status);
}

absl::StatusOr<bool> ReconcileConversion(const FlowContext& ctx, const VolumeRecord& record,
                                         int64_t cutoff) {
  absl::StatusOr<ConversionRecord> row = ctx.store->GetConversion(record.id);
  if (absl::IsNotFound(row.status())) {
    // Cannot happen through the store (status and row change together); a
    // row removed by hand leaves the record as it is: the source.
    if (record.updated_at > cutoff) return false;
    ctx.log->Log(LogLevel::kWarning, absl::StrCat("volume ", record.id,
                                                  ": 'converting' without a conversion; "
                                                  "marked available"));
    VolumeRecord r = record;
    VOLCRYPT_RETURN_IF_ERROR(MoveTo(ctx, r, VolumeStatus::kAvailable));
    return true;
  }
  if (!row.ok()) return row.status();
  if (row->online) return false;  // online_conversion.h's
  if (row->updated_at > cutoff) return false;
  if (row->phase == ConversionPhase::kCopying && !ConversionOwnerIsGone(row->owner) &&
      row->updated_at > cutoff - 600) {
    return false;  // its owner may still be copying (another host: a lease)
  }
  ctx.log->Log(LogLevel::kWarning,
               absl::StrCat("volume ", record.id, ": ",
                            row->phase == ConversionPhase::kSwapped ? "finishing" : "undoing",
                            " an interrupted conversion"));
  if (row->phase == ConversionPhase::kSwapped) {
    VOLCRYPT_RETURN_IF_ERROR(FinishConversion(ctx, record.id));
  } else {
    VOLCRYPT_RETURN_IF_ERROR(UndoConversion(ctx, record.id));
  }
  return true;
}

}  // namespace flows
}  // namespace volcrypt
