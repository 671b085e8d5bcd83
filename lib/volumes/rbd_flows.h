// What only RBD volumes have: snapshots, clones (a new key id holding the
// parent's bytes, as cinder's store(get(id))), and librbd's own header
// format. The only flows that need RbdBackend itself.
#ifndef VOLCRYPT_LIB_VOLUMES_RBD_FLOWS_H_
#define VOLCRYPT_LIB_VOLUMES_RBD_FLOWS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"
#include "volcrypt/secret_bytes.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {
namespace flows {

absl::StatusOr<SnapshotRecord> CreateSnapshot(const FlowContext& ctx,
                                              const std::string& volume_id,
                                              const std::string& snapshot_id);

absl::Status DeleteSnapshot(const FlowContext& ctx, const std::string& snapshot_id);

absl::StatusOr<VolumeRecord> CloneVolume(const FlowContext& ctx,
                                         const std::string& snapshot_id,
                                         const std::string& new_id,
                                         const VolumeLocation& location);

// Lets librbd write the header of the new image of `record`
// (rbd_encryption_format, librbd's own KDF).
absl::Status FormatWithLibrbd(const FlowContext& ctx, const VolumeRecord& record,
                              const SecretBytes& passphrase);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_RBD_FLOWS_H_
