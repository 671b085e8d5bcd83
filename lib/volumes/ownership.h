// Verify before destroying: a record is a claim about a location, not the
// location itself. Paths and image names are reused (a delete stopped half
// way, a new volume made at the same path, a file put there by hand), so
// every step that removes or wipes a backing volume (delete, undo, reconcile)
// first asks whether the location still holds what the record made.
//
// The proof a record keeps (VolumeRecord::location_proof) is "luks:<UUID>",
// the UUID of the LUKS header at the location when the create finished.
// Records without one (made before proofs were recorded, or interrupted
// before that step) are checked by their key: the header must open with it.
#ifndef VOLCRYPT_LIB_VOLUMES_OWNERSHIP_H_
#define VOLCRYPT_LIB_VOLUMES_OWNERSHIP_H_

#include <string>

#include "absl/status/statusor.h"
#include "lib/volumes/flow_support.h"

namespace volcrypt {
namespace flows {

enum class Ownership {
  kOwned,    // the location holds what the record made
  kGone,     // nothing is there any more
  kNotOurs,  // something else is there now: leave it alone
};

// The proof for what `record`'s location holds now: "luks:<UUID>" of its
// header. FailedPrecondition if it holds no LUKS header.
absl::StatusOr<std::string> ProveLocation(const FlowContext& ctx,
                                          const VolumeRecord& record);

// Whether `record` still owns its location. A location holding no signature
// at all counts as the record's only while it has no proof (a create
// interrupted between making the backing volume and writing its header; a
// volume whose format was deferred to its first attach); once a header was
// proven there, a blank location is someone else's.
absl::StatusOr<Ownership> CheckOwnership(const FlowContext& ctx,
                                         const VolumeRecord& record);

// Deletes `record`'s backing volume if the record still owns it; otherwise
// leaves the location alone and logs why. OK in both cases.
absl::Status DeleteOwnedBacking(const FlowContext& ctx, const VolumeRecord& record);

// FailedPrecondition (EEXIST) if another record, whatever its status, names
// `where`: a location an unfinished operation may still act on is never
// handed to a new volume.
absl::Status CheckNoRecordAt(const FlowContext& ctx, const VolumeLocation& where);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_OWNERSHIP_H_
