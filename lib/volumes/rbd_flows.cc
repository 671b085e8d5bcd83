#include "lib/volumes/rbd_flows.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/ownership.h"
#include "volcrypt/errors.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {
namespace flows {
namespace {

std::string SnapshotName(const std::string& snapshot_id) {
  return "snapshot-" + snapshot_id;
}

absl::StatusOr<RbdBackend*> Rbd(const FlowContext& ctx) {
  if (ctx.rbd_native == nullptr) {
    return absl::FailedPreconditionError("no rbd backend is configured");
  }
  return ctx.rbd_native;
}

absl::StatusOr<RbdBackend*> RbdFor(const FlowContext& ctx, const VolumeRecord& v) {
  if (v.location.kind != BackendKind::kRbd) {
    return absl::UnimplementedError(absl::StrCat(
        "volume ", v.id, ": snapshots and clones need an rbd volume"));
  }
  return Rbd(ctx);
}

absl::StatusOr<SnapshotRecord> FindSnapshot(const FlowContext& ctx,
                                            const std::string& snapshot_id) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> all, ctx.store->ListSnapshots(""));
  for (SnapshotRecord& s : all) {
    if (s.id == snapshot_id) return s;
  }
  return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                    absl::StrCat("snapshot ", snapshot_id, " not found"));
}

// New key id, same bytes; then the clone itself.
absl::Status CloneSteps(const FlowContext& ctx, const VolumeRecord& parent,
                        const SnapshotRecord& snap, VolumeRecord& record,
                        RbdBackend& rbd, CreateProgress& progress) {
  const std::string what = "clone volume " + record.id;
  // The snapshot's key: its header is the one the snapshot was taken with,
  // which a key rotation of the parent since then does not change.
  const std::string& key_id =
      snap.encryption_key_id.empty() ? parent.encryption_key_id : snap.encryption_key_id;
  absl::StatusOr<SecretBytes> key = ctx.keys->GetKey(key_id);
  if (!key.ok()) return Annotate(key.status(), what);
  VOLCRYPT_RETURN_IF_ERROR(Annotate(StoreVolumeKey(ctx, record, *key, progress), what));
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateVolume(record, VolumeStatus::kCreating));
  VOLCRYPT_RETURN_IF_ERROR(Annotate(
      rbd.Clone(parent.location, SnapshotName(snap.id), record.location), what));
  progress.backing_created = true;
  VOLCRYPT_ASSIGN_OR_RETURN(record.location_proof, ProveLocation(ctx, record));
  return MoveTo(ctx, record, VolumeStatus::kAvailable);
}

}  // namespace

absl::StatusOr<SnapshotRecord> CreateSnapshot(const FlowContext& ctx,
                                              const std::string& volume_id,
                                              const std::string& snapshot_id) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord v, ctx.store->GetVolume(volume_id));
  if (v.status != VolumeStatus::kAvailable && v.status != VolumeStatus::kInUse) {
    return WrongStatus(v, "only an available or attached volume can be snapshotted");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(RbdBackend * rbd, RbdFor(ctx, v));
  // The store gives the snapshot the volume's key id as it is then.
  VOLCRYPT_RETURN_IF_ERROR(
      ctx.store->CreateSnapshot({snapshot_id, volume_id, "", "available", 0}));
  absl::Status s = rbd->CreateSnapshot(v.location, SnapshotName(snapshot_id));
  if (!s.ok()) {
    (void)ctx.store->DeleteSnapshot(snapshot_id);
    return s;
  }
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps,
                            ctx.store->ListSnapshots(volume_id));
  for (SnapshotRecord& snap : snaps) {
    if (snap.id == snapshot_id) return snap;
  }
  return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                    absl::StrCat("snapshot ", snapshot_id, " vanished while created"));
}

absl::Status DeleteSnapshot(const FlowContext& ctx, const std::string& snapshot_id) {
  VOLCRYPT_ASSIGN_OR_RETURN(SnapshotRecord snap, FindSnapshot(ctx, snapshot_id));
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord v, ctx.store->GetVolume(snap.volume_id));
  VOLCRYPT_ASSIGN_OR_RETURN(RbdBackend * rbd, RbdFor(ctx, v));
  VOLCRYPT_RETURN_IF_ERROR(
      OkIfNotFound(rbd->RemoveSnapshot(v.location, SnapshotName(snapshot_id))));
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->DeleteSnapshot(snapshot_id));
  // A key that a rotation left for this snapshot goes with the last record
  // naming it. (A kill just here leaves it named for the volume and
  // unreferenced: the volume's next rotation deletes it.)
  if (snap.encryption_key_id.empty() || snap.encryption_key_id == v.encryption_key_id) {
    return absl::OkStatus();
  }
  VOLCRYPT_ASSIGN_OR_RETURN(int refs, ctx.store->CountKeyReferences(snap.encryption_key_id));
  if (refs > 0) return absl::OkStatus();
  return ForgetKey(ctx, v.id, snap.encryption_key_id);
}

absl::StatusOr<VolumeRecord> CloneVolume(const FlowContext& ctx,
                                         const std::string& snapshot_id,
                                         const std::string& new_id,
                                         const VolumeLocation& location) {
  VOLCRYPT_ASSIGN_OR_RETURN(SnapshotRecord snap, FindSnapshot(ctx, snapshot_id));
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord parent, ctx.store->GetVolume(snap.volume_id));
  VOLCRYPT_ASSIGN_OR_RETURN(RbdBackend * rbd, RbdFor(ctx, parent));
  if (location.kind != BackendKind::kRbd) {
    return absl::InvalidArgumentError("a clone of an rbd volume is an rbd volume");
  }
  absl::Status exists = rbd->Stat(location).status();
  if (exists.ok()) {
    return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                      absl::StrCat(location.DebugString(), " already exists"));
  }
  if (!absl::IsNotFound(exists)) return exists;
  VOLCRYPT_RETURN_IF_ERROR(CheckNoRecordAt(ctx, location));
  VolumeRecord record = parent;
  record.id = new_id;
  record.host = ctx.host;
  record.location = location;
  record.encryption_key_id.clear();
  record.location_proof.clear();
  record.status = VolumeStatus::kCreating;
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->CreateVolume(record));
  CreateProgress progress;
  absl::Status s = CloneSteps(ctx, parent, snap, record, *rbd, progress);
  if (s.ok()) return ctx.store->GetVolume(new_id);
  return RollBackCreate(ctx, s, record, progress);
}

absl::StatusOr<int> ReconcileSnapshots(const FlowContext& ctx, int64_t cutoff) {
  if (ctx.rbd_native == nullptr) return 0;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> all, ctx.store->ListSnapshots(""));
  int acted = 0;
  for (const SnapshotRecord& snap : all) {
    if (snap.created_at > cutoff) continue;
    absl::StatusOr<VolumeRecord> v = ctx.store->GetVolume(snap.volume_id);
    if (absl::IsNotFound(v.status())) continue;
    if (!v.ok()) return v.status();
    if (v->host != ctx.host || v->location.kind != BackendKind::kRbd) continue;
    absl::StatusOr<bool> exists =
        ctx.rbd_native->SnapshotExists(v->location, SnapshotName(snap.id));
    if (absl::IsNotFound(exists.status())) exists = false;  // no image, no snapshot
    if (!exists.ok()) return exists.status();
    if (*exists) continue;
    ctx.log->Log(LogLevel::kWarning,
                 absl::StrCat("snapshot ", snap.id, " of volume ", v->id, ": ",
                              v->location.DebugString(), " has no such snapshot (an "
                              "interrupted snapshot or snapshot delete); record removed"));
    VOLCRYPT_RETURN_IF_ERROR(OkIfNotFound(ctx.store->DeleteSnapshot(snap.id)));
    ++acted;
  }
  return acted;
}

absl::Status FormatWithLibrbd(const FlowContext& ctx, const VolumeRecord& record,
                              const SecretBytes& passphrase) {
  VOLCRYPT_ASSIGN_OR_RETURN(RbdBackend * rbd, Rbd(ctx));
  return rbd->FormatNative(record.location, record.encryption.format,
                           record.encryption.key_bits, passphrase);
}

}  // namespace flows
}  // namespace volcrypt
