// Create, delete and extend: the flows that make, remove and grow a
// volume's backing store, in the order docs/flows.md gives, each with what
// a failure or a crash at every step leaves (volume_service.h).
#ifndef VOLCRYPT_LIB_VOLUMES_VOLUME_LIFECYCLE_H_
#define VOLCRYPT_LIB_VOLUMES_VOLUME_LIFECYCLE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace flows {

absl::StatusOr<VolumeRecord> CreateVolume(const FlowContext& ctx,
                                          const CreateVolumeRequest& request);

absl::Status DeleteVolume(const FlowContext& ctx, const std::string& id);

// Steps 2-4 of a delete, for a record already 'deleting' (a rerun, or
// Reconcile): backing volume, key unless another record uses it, record.
absl::Status FinishDelete(const FlowContext& ctx, const VolumeRecord& record);

absl::StatusOr<VolumeRecord> ExtendVolume(const FlowContext& ctx,
                                          const std::string& id,
                                          uint64_t new_size_bytes);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_VOLUME_LIFECYCLE_H_
