// What only RBD volumes have: snapshots, clones (a new key id holding the
// parent's bytes, as cinder's store(get(id))), and librbd's own header
// format. The only flows that need RbdBackend itself.
#ifndef VOLCRYPT_LIB_VOLUMES_RBD_FLOWS_H_
#define VOLCRYPT_LIB_VOLUMES_RBD_FLOWS_H_

#include <cstdint>
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

// For snapshot records a kill left out of step with Ceph: a snapshot killed
// between its record and the image's snapshot, or a snapshot delete killed
// between the image's snapshot and its record. Ceph has no such snapshot
// either way, so the record goes (a record claiming a snapshot nobody can
// clone, which blocks its volume's delete). Records made after `cutoff` are
// left alone: their snapshot may be being taken now. Returns how many went;
// 0 without an rbd backend.
absl::StatusOr<int> ReconcileSnapshots(const FlowContext& ctx, int64_t cutoff);

// Lets librbd write the header of the new image of `record`
// (rbd_encryption_format, librbd's own KDF).
absl::Status FormatWithLibrbd(const FlowContext& ctx, const VolumeRecord& record,
                              const SecretBytes& passphrase);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_RBD_FLOWS_H_
