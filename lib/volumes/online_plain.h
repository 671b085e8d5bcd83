// Online encryption of a plain volume (issue #18): a volume recorded plain
// (ManageVolume's kNone) is never attached by volcrypt, but a running
// domain may hold it already (attached by nova or by hand, its <serial>
// the volume id). Offline conversion refuses it (EBUSY: a domain uses
// it); ConvertVolume with kEncrypt takes the online flow
// (online_conversion.h) instead, which records that attachment first, so
// that after the pivot volcrypt owns the disk (its new secret) as after
// its own attach: the volume ends 'in-use', detaches and reconciles as any.
//
// The extra step, between BeginConversion (1) and the destination (2):
//   1b. CreateAttachment: domain, target, 'attached', no secret ("").
//       Kill before it: an online row with no attachment; nothing exists
//       in libvirt yet (the secret comes at 3), so Reconcile undoes it as
//       the offline rule does. Kill after: the online rule, as for an
//       encrypted volume (the old side's secret is "": the plain disk).
// Undo removes this attachment before the row ends ('available' again);
// the finish ends the row 'in-use' with the attachment kept.
#ifndef VOLCRYPT_LIB_VOLUMES_ONLINE_PLAIN_H_
#define VOLCRYPT_LIB_VOLUMES_ONLINE_PLAIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace flows {

// The one live disk of a running domain that carries plain volume
// `record`'s id as serial, with no <encryption>; nullopt if there is none
// (then no domain runs it, and the offline flow's own check decides).
// FailedPrecondition (EBUSY) if several domains or disks hold it.
absl::StatusOr<absl::optional<DomainDiskInfo>> FindPlainLiveDisk(const FlowContext& ctx,
                                                                 const VolumeRecord& record);

// Step 1b: the attachment of `disk`, secret "" (the plain disk has none).
absl::StatusOr<AttachmentRecord> AdoptAttachment(const FlowContext& ctx,
                                                 const std::string& volume_id,
                                                 const DomainDiskInfo& disk);

// Whether `row` is such a conversion: online, from an 'available' volume.
bool AdoptsAttachment(const ConversionRecord& row);

// The undo's extra step: the adopted attachment goes (none is fine).
absl::Status ForgetAdoptedAttachment(const FlowContext& ctx, const ConversionRecord& row);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_ONLINE_PLAIN_H_
