// What every VolumeService flow works with (FlowContext) and the helpers they
// share: one wording for a volume in the wrong status, errors annotated with
// what they concern, and the undo of a create that failed or was interrupted.
// Each flow lives in its own file: volume_lifecycle.cc (create, delete,
// extend), attach_flows.cc, rbd_flows.cc (snapshots, clones); docs/design.md
// has the map.
#ifndef VOLCRYPT_LIB_VOLUMES_FLOW_SUPPORT_H_
#define VOLCRYPT_LIB_VOLUMES_FLOW_SUPPORT_H_

#include <cerrno>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "volcrypt/block_backend.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/logger.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {

class Attacher;
class RbdBackend;

namespace flows {

// The components a VolumeService was given; none is owned.
struct FlowContext {
  KeyManager* keys = nullptr;
  VolumeStore* store = nullptr;
  BlockBackend* mapped = nullptr;
  BlockBackend* rbd = nullptr;         // the same object as rbd_native
  RbdBackend* rbd_native = nullptr;    // for what only RBD has (rbd_flows.cc)
  Attacher* attacher = nullptr;
  std::string host;
  Logger* log = nullptr;

  // The backend serving `where`; FailedPrecondition if none is configured.
  absl::StatusOr<BlockBackend*> BackendFor(const VolumeLocation& where) const;
};

// FailedPrecondition "volume <id> is <status>; <why>", carrying `err`.
absl::Status WrongStatus(const VolumeRecord& volume, absl::string_view why,
                         int err = EBUSY);

// `s` with `message` instead of its own, keeping its code and errno.
absl::Status WithMessage(const absl::Status& s, absl::string_view message);

// `s` with its message prefixed by "<what>: "; OK stays OK.
absl::Status Annotate(const absl::Status& s, absl::string_view what);

// OK for NotFound: a thing already gone is what an undo or delete wants.
absl::Status OkIfNotFound(const absl::Status& s);

// Moves `record` to `to` from the status it holds (compare-and-set), and
// keeps the new status in `record`.
absl::Status MoveTo(const FlowContext& ctx, VolumeRecord& record, VolumeStatus to);

// How far a create or clone got, so that its undo removes exactly that.
struct CreateProgress {
  bool key_created = false;
  bool backing_created = false;
};

// Undoes a failed create or clone and returns `failure`; when the undo
// cannot finish, the record stays 'creating' (Reconcile finishes it) and the
// returned error says so.
absl::Status RollBackCreate(const FlowContext& ctx, const absl::Status& failure,
                            const VolumeRecord& record, const CreateProgress& progress);

// Undoes a create that a crash interrupted in 'creating': the key id may not
// have been recorded, so keys are also found by name. The backing volume is
// the create's only if a key was recorded (it is made after that step).
absl::Status UndoInterruptedCreate(const FlowContext& ctx, const VolumeRecord& record);

// The secret an attachment's disk was given: its own (recorded since
// per-attach secrets), or, for rows of older versions, the volume's key id.
const std::string& SecretOf(const VolumeRecord& record, const AttachmentRecord& attachment);

// Where `record`'s disk is, from the record, not the backend: a delete that
// is finishing may find the file or image gone already.
DiskSource SourceOf(const VolumeRecord& record);

}  // namespace flows
}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_VOLUMES_FLOW_SUPPORT_H_
