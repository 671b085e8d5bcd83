// The offline conversion (conversion.h): begin or resume, the copy through
// lib/copy, the verification, the swap and the finish.
#include "lib/volumes/conversion.h"

#include "absl/strings/str_cat.h"
#include "lib/copy/payload_copier.h"
#include "lib/copy/xts_cipher.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/conversion_support.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace flows {
namespace {

bool Same(const VolumeLocation& a, const VolumeLocation& b) {
  return a.kind == b.kind && a.path == b.path && a.pool == b.pool && a.image == b.image;
}

// Steps 6 and 7.
absl::Status CopyAndVerify(const FlowContext& ctx, ConversionRecord& row,
                           const ConversionDestination& dest,
                           const ConvertVolumeRequest& req) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord source, ctx.store->GetVolume(row.volume_id));
  VOLCRYPT_ASSIGN_OR_RETURN(PayloadSide side, LoadPayloadSide(ctx, source));
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<RawVolume> from,
                            OpenRawAt(ctx, source.location, /*writable=*/false));
  VOLCRYPT_ASSIGN_OR_RETURN(std::unique_ptr<RawVolume> to,
                            OpenRawAt(ctx, row.other_location, /*writable=*/true));
  absl::optional<XtsCipher> old_cipher;
  if (!side.volume_key.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(old_cipher, XtsCipher::Create(side.volume_key, side.sector_size));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(
      XtsCipher new_cipher,
      XtsCipher::Create(dest.volume_key, row.other_encryption.sector_size));
  PayloadEnd src{from.get(), side.payload_offset, old_cipher ? &*old_cipher : nullptr};
  PayloadEnd dst{to.get(), dest.payload_offset, &new_cipher};
  CopyOptions o;
  o.payload_bytes = source.size_bytes;
  o.start_at = row.copied_bytes;
  o.journal = [&](uint64_t copied) {
    row.copied_bytes = copied;
    return ctx.store->UpdateConversion(row);
  };
  o.progress = req.progress;
  o.bandwidth = req.bandwidth;
  const std::string what = "convert volume " + row.volume_id;
  VOLCRYPT_RETURN_IF_ERROR(Annotate(CopyPayload(src, dst, o), what));
  VOLCRYPT_RETURN_IF_ERROR(Annotate(VerifyPayload(src, dst, o.payload_bytes, 16), what));
  // The destination's header opens with the new key, as QEMU will open it.
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(row.other_location));
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage header,
                            backend->ReadLuksHeader(row.other_location));
  return Annotate(luks::VerifyPassphrase(header.path(), dest.passphrase).status(), what);
}

// A failure before the swap: back to the old volume, or say what is left.
absl::Status RollBack(const FlowContext& ctx, const std::string& id,
                      const absl::Status& failure) {
  absl::Status undo = UndoConversion(ctx, id);
  if (undo.ok()) return failure;
  return WithMessage(failure,
                     absl::StrCat(failure.message(), "; rollback incomplete (",
                                  undo.message(), "): volume ", id,
                                  " stays 'converting' until Reconcile() undoes it"));
}

// Begins, or takes over an interrupted conversion of the same target.
absl::StatusOr<ConversionRecord> BeginOrResume(const FlowContext& ctx,
                                               const ConvertVolumeRequest& req,
                                               ConversionDestination* dest, bool* resumed) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord current, ctx.store->GetVolume(req.id));
  *resumed = false;
  if (current.status != VolumeStatus::kConverting) {
    VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord row,
                              BeginConversion(ctx, req, VolumeStatus::kAvailable, false));
    absl::StatusOr<ConversionDestination> made = CreateConversionDestination(ctx, row);
    if (!made.ok()) return RollBack(ctx, req.id, made.status());
    *dest = std::move(*made);
    return row;
  }
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord row, ctx.store->GetConversion(req.id));
  if (row.online || !ConversionOwnerIsGone(row.owner)) {
    return WrongStatus(current, row.online ? "an online conversion owns it"
                                           : "another process is converting it");
  }
  *resumed = true;
  if (row.phase == ConversionPhase::kSwapped) return row;
  if (!Same(row.other_location, req.target)) {
    return WrongStatus(current, absl::StrCat("its interrupted conversion targets ",
                                             row.other_location.DebugString(),
                                             "; rerun with that target or reconcile"));
  }
  row.owner = ConversionOwner();
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateConversion(row));
  if (row.other_location_proof.empty()) {
    // Interrupted before its destination was finished: start over.
    VOLCRYPT_RETURN_IF_ERROR(UndoConversion(ctx, req.id));
    return BeginOrResume(ctx, req, dest, resumed);
  }
  absl::StatusOr<ConversionDestination> opened = OpenConversionDestination(ctx, row);
  if (!opened.ok()) return RollBack(ctx, req.id, opened.status());
  *dest = std::move(*opened);
  return row;
}

}  // namespace

absl::StatusOr<VolumeRecord> ConvertVolume(const FlowContext& ctx,
                                           const ConvertVolumeRequest& req) {
  ConversionDestination dest;
  bool resumed = false;
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord row, BeginOrResume(ctx, req, &dest, &resumed));
  if (row.phase == ConversionPhase::kCopying) {
    if (resumed) {
      ctx.log->Log(LogLevel::kInfo, absl::StrCat("volume ", req.id, ": resuming its conversion at ",
                                                 row.copied_bytes, " bytes"));
    }
    absl::Status copied = CopyAndVerify(ctx, row, dest, req);
    if (!copied.ok()) return RollBack(ctx, req.id, copied);
    // 8. The swap. An unknown outcome (a lost answer) is read back.
    absl::Status swapped = SwapConversion(ctx, req.id).status();
    if (!swapped.ok()) {
      absl::StatusOr<ConversionRecord> now = ctx.store->GetConversion(req.id);
      if (!now.ok() || now->phase != ConversionPhase::kSwapped) {
        return RollBack(ctx, req.id, swapped);
      }
    }
  }
  // 9. The finish.
  absl::Status finished = FinishConversion(ctx, req.id);
  if (!finished.ok()) {
    return WithMessage(finished, absl::StrCat("volume ", req.id,
                                              " is converted, but its clean-up failed (",
                                              finished.message(),
                                              "); Reconcile() finishes it"));
  }
  return ctx.store->GetVolume(req.id);
}

}  // namespace flows
}  // namespace volcrypt
