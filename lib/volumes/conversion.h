// Copy-conversion of a volume (issue #18): plain -> encrypted, and
// re-encryption under a new volume key (perhaps another format or engine).
// The offline flow (ConvertVolume) copies the payload itself; the online
// flow (online_conversion.h) lets libvirt's blockcopy copy it and uses the
// same pieces: BeginConversion, CreateConversionDestination,
// SwapConversion, FinishConversion, UndoConversion, ReconcileConversion.
//
// The store side (VolumeStore::*Conversion, schema 10): while a volume is
// 'converting' it has one ConversionRecord row holding the side the volume
// record does not hold: before the swap the destination (location, spec,
// new key id, header proof, journal), after the swap the source (old
// location, old key, old proof). Keys on either side count as referenced
// (CountKeyReferences), so no other clean-up takes them.
//
// Steps of the offline ConvertVolume, and what a kill at each leaves (the
// fault-point names are those tests/support's wrappers trace):
//   0. Checks, nothing written: the source is what the record says (LUKS
//      header with the recorded proof that the recorded key opens, or for a
//      plain volume no LUKS and the recorded size), the target does not
//      exist and no record names it, the sizes work for the target spec.
//      A plain source gets its fingerprint as location proof first
//      ("plain:<bytes>:<sha256 of its first MiB>") so that the finish can
//      verify it before deleting it.              Kill: nothing changed.
//   1. store.BeginConversion: 'available' -> 'converting' and the row, in
//      one transaction.        Kill: the row, no key. -> old volume
//   2. keys.CreateKey (named KeyNameForVolume(id)) + keys.AddConsumer.
//      Kill: a key recorded nowhere; found by its name. -> old volume
//   3. store.UpdateConversion: the new key id.      -> old volume
//   4. backend.Create of the destination (same payload size, new spec),
//      backend.WriteLuksHeader (a new header, a new random volume key).
//      Kill: a blank destination or one its new key opens. -> old volume
//   5. store.UpdateConversion: the header proof "luks:<UUID>". -> old volume
//   6. The copy: the source's data extents, decrypted with the old volume
//      key, encrypted with the new one; store.UpdateConversion records the
//      journal (copied_bytes) after each fsync of the destination, every
//      256 MiB or 5 s. Kill: a partial copy. A rerun of ConvertVolume
//      continues from the journal once the owner is gone; Reconcile (after
//      the grace) goes back to the old volume.
//   7. Verify: the new key opens the destination's header, and the
//      plaintext of both sides agrees at sampled places.  -> old volume
//   8. store.SwapConversion: the one transaction that makes the record the
//      destination (location, spec, key, proof) and the row the source.
//      Kill before its commit: old volume; after: new volume.
//   9. The finish: backend.Delete of the source after verifying its proof
//      (not with keep_source), keys.DeleteKey of the old key unless another
//      record uses it (kept with keep_source), store.EndConversion: the row
//      deleted and the volume back to the status before. Kill: Reconcile or
//      a rerun finishes it.                         -> new volume
// Undo (before the swap): the destination is deleted if it still is ours
// (its proof, or blank/opened by the new key before the proof), the new
// key and any key named for the volume that nothing references are
// deleted, then EndConversion. The source is never touched before the
// swap. So after any kill plus Reconcile: the old volume with its old key
// or the new one with its new key, never neither, and no orphan.
#ifndef VOLCRYPT_LIB_VOLUMES_CONVERSION_H_
#define VOLCRYPT_LIB_VOLUMES_CONVERSION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/secret_bytes.h"
#include "volcrypt/volume_service.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace flows {

// The offline flow (VolumeService::ConvertVolume).
absl::StatusOr<VolumeRecord> ConvertVolume(const FlowContext& ctx,
                                           const ConvertVolumeRequest& request);

// Steps 0 and 1: checks `request` against `source` (re-read from the
// store; must be 'available', or `expected` for the online flow's
// 'in-use'), then moves it to 'converting' with a row for the destination.
// Returns the row. Nothing is written when a check fails.
absl::StatusOr<ConversionRecord> BeginConversion(const FlowContext& ctx,
                                                 const ConvertVolumeRequest& request,
                                                 VolumeStatus expected, bool online);

// What the destination's creation yields.
struct ConversionDestination {
  SecretBytes passphrase;  // the new key's hex: what QEMU/librbd/libvirt get
  SecretBytes volume_key;  // the new header's volume key (the copier's)
  uint64_t payload_offset = 0;  // bytes from the destination's start
  uint64_t raw_bytes = 0;       // the destination's size
};

// Steps 2 to 5 on a row in 'copying' without a key: the new key, the
// destination (same payload size as the source), its header, the proof;
// `row` is updated as the store is. A failure leaves the row as far as it
// got, for UndoConversion.
absl::StatusOr<ConversionDestination> CreateConversionDestination(
    const FlowContext& ctx, ConversionRecord& row);

// For a rerun: the destination of a row that got past step 5 (its proof
// still holds and its new key opens it).
absl::StatusOr<ConversionDestination> OpenConversionDestination(
    const FlowContext& ctx, const ConversionRecord& row);

// Step 8; returns the record after the swap.
absl::StatusOr<VolumeRecord> SwapConversion(const FlowContext& ctx,
                                            const std::string& volume_id);

// Step 9 for a volume whose row is 'swapped'.
absl::Status FinishConversion(const FlowContext& ctx, const std::string& volume_id);

// The undo for a volume whose row is still 'copying'.
absl::Status UndoConversion(const FlowContext& ctx, const std::string& volume_id);

// Reconcile's rule for a 'converting' record: a row journaled before
// `cutoff` (Unix s) whose owner is gone is undone before the swap and
// finished after it; returns whether it acted. Online rows are the online
// flow's (online_conversion.h) and left alone here.
absl::StatusOr<bool> ReconcileConversion(const FlowContext& ctx, const VolumeRecord& record,
                                         int64_t cutoff);

// "<host>/<pid>/<random>": the owner of conversions this process runs.
std::string ConversionOwner();
// Whether `owner` names a process of this host that no longer exists.
bool ConversionOwnerIsGone(const std::string& owner);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_CONVERSION_H_
