// Manage and unmanage: taking over a volume volcrypt did not create, and
// letting go of one without destroying it (cinder's manage/unmanage).
//
// Manage writes nothing to the volume: every check (header, key, size,
// engine, location and id free) runs before the first write, so bad input
// records and stores nothing. Its writes, and what a kill after each leaves:
//   kKeyId, kNone: one insert, 'available'. Before it: nothing.
//   kKeyBytes, kPassphrase:
//     1. insert 'managing', no key id      -> a 'managing' record
//     2. store the key, named for the id   -> + a key nobody recorded
//     3. record the key id                 -> a 'managing' record with it
//     4. 'available' with the UUID proof   -> done
//   Reconcile undoes a stale 'managing' record: the recorded key, any key
//   named for the id (step 2's, found by name; manage refuses an id that
//   already has such a key, so the name is this manage's), then the record.
//   It never touches the backing volume, which manage did not make.
#ifndef VOLCRYPT_LIB_VOLUMES_MANAGE_FLOWS_H_
#define VOLCRYPT_LIB_VOLUMES_MANAGE_FLOWS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace flows {

absl::StatusOr<VolumeRecord> ManageVolume(const FlowContext& ctx,
                                          const ManageVolumeRequest& request);

absl::Status UnmanageVolume(const FlowContext& ctx, const std::string& id);

// Reconcile's rule for a record a crash left 'managing' (see above).
absl::Status UndoInterruptedManage(const FlowContext& ctx, const VolumeRecord& record);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_MANAGE_FLOWS_H_
