// Online conversion (issue #18): a volume attached to a running domain gets
// a new volume key (and perhaps another format or engine) while the guest
// keeps running, through libvirt's block copy (lib/attach/block_copy.h).
// VolumeService::ConvertVolume takes this path for an 'in-use' volume; it
// shares the offline flow's pieces (conversion.h): the conversion row, the
// destination's creation, the swap, the finish, the undo.
//
// Steps, and what a failure (F) or a kill (K) at each leaves:
//   0. Checks: 'in-use', attachment 'attached' and live, the live disk on
//      the recorded target carries the volume id and no copy runs, the
//      destination can be opened live (not the librbd engine: libvirt 9.0
//      gives QEMU no secret for it).     F/K: nothing changed.
//   1. BeginConversion ('in-use' -> 'converting', row online). A plain
//      volume a running domain holds starts 'available' and adds step 1b,
//      its attachment recorded (online_plain.h, which says what a kill
//      around it leaves); it ends 'in-use'.
//   2. CreateConversionDestination: new key, destination, header, proof.
//   3. The destination's libvirt secret (ConversionSecretUuid of the new
//      key id, usage ConversionSecretUsageId), value = the new passphrase.
//   4. CopyAndPivot: blockcopy (REUSE_EXT, TRANSIENT_JOB), progress, pivot.
//      F in 1-4: the job is aborted, the guest stays on its source,
//      untouched; the secret, destination and new key go; the row ends
//      ('in-use' again). K in 1-4: Reconcile (the row's owner gone, past
//      the grace) asks libvirt which secret the disk uses: the old one
//      (or a copy still mirroring, which it aborts) -> the same undo.
//   5. SwapConversion: the record names the destination and the new key.
//   6. The attachment takes the new secret's UUID.
//   7. The old secret is undefined (no disk names it after the pivot).
//   8. FinishConversion: the old location (unless keep_source) and the old
//      key go; 'in-use' again.
//      F/K after the pivot (4) in 5-8: Reconcile goes forward: libvirt's
//      disk (live, or the persistent config if the domain stopped) names
//      the new secret, so it swaps if the record has not, then 6, 7, 8.
// End state after any kill plus Reconcile: the old volume with its old key
// and secret, or the new one with its new key and secret; never neither,
// and no orphaned key, image, file or secret.
#ifndef VOLCRYPT_LIB_VOLUMES_ONLINE_CONVERSION_H_
#define VOLCRYPT_LIB_VOLUMES_ONLINE_CONVERSION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace flows {

// Whether ConvertVolume should take the online path: the volume is
// 'in-use' (attached through volcrypt).
absl::StatusOr<bool> IsOnlineConversion(const FlowContext& ctx, const std::string& id);

// Steps 0 to 8. Errors: FailedPrecondition (not attached live, the domain
// not running, the disk not the volume's, a copy already running (EBUSY)),
// Unimplemented (a destination libvirt cannot open live), InvalidArgument
// (a size the copy cannot keep), the offline flow's errors for the
// destination, and the block copy's (block_copy.h).
absl::StatusOr<VolumeRecord> ConvertVolumeOnline(const FlowContext& ctx,
                                                 const ConvertVolumeRequest& request);

// Reconcile's rule for a 'converting' record with an online row journaled
// before `cutoff` whose owner is gone (see above); false for any other
// record (the offline rule's).
absl::StatusOr<bool> ReconcileOnlineConversion(const FlowContext& ctx,
                                               const VolumeRecord& record, int64_t cutoff);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_ONLINE_CONVERSION_H_
