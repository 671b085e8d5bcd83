// Attach and detach: the key goes into a libvirt secret (the key container)
// that the disk's <encryption> names, so QEMU decrypts. The only flows that
// talk to libvirt, and so the only file that includes attacher.h.
#ifndef VOLCRYPT_LIB_VOLUMES_ATTACH_FLOWS_H_
#define VOLCRYPT_LIB_VOLUMES_ATTACH_FLOWS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace flows {

absl::StatusOr<AttachPlan> PlanAttach(const FlowContext& ctx, const std::string& id,
                                      const AttachPlanOptions& options);

absl::StatusOr<VolumeRecord> AttachVolume(const FlowContext& ctx, const std::string& id,
                                          const AttachTarget& target,
                                          const AttachPlanOptions& options);

absl::StatusOr<VolumeRecord> DetachVolume(const FlowContext& ctx, const std::string& id);

// For a record in 'attaching' or 'detaching' that a crash left: an attach is
// undone, a detach finished; either way libvirt's disk and secret go.
absl::Status ReconcileAttachment(const FlowContext& ctx, VolumeRecord& record);

// Before a delete: FailedPrecondition (EBUSY) naming the domain(s) whose
// live or persistent XML has a disk with the volume's serial or its path or
// rbd image, whatever the records say. OK when no attacher is configured.
absl::Status CheckNoDomainUses(const FlowContext& ctx, const VolumeRecord& record);

// Compares this host's records with what libvirt holds, both ways, and
// returns how many differences it found: a volcrypt secret (usage under
// /volcrypt/) that no attachment row explains and no domain uses is
// undefined; a disk whose serial is one of our volume ids but that no
// attachment row records is reported (a warning), and removed only when the
// volume is recorded 'available' with no attachment and the disk is
// decrypted through a volcrypt secret (a leftover volcrypt made). 0 without
// an attacher.
absl::StatusOr<int> ReconcileLibvirt(const FlowContext& ctx);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_ATTACH_FLOWS_H_
