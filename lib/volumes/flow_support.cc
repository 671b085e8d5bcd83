#include "lib/volumes/flow_support.h"

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/ownership.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace flows {

absl::StatusOr<BlockBackend*> FlowContext::BackendFor(
    const VolumeLocation& where) const {
  BlockBackend* backend = where.kind == BackendKind::kMapped ? mapped : rbd;
  if (backend == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no ", BackendKindName(where.kind), " backend is configured"));
  }
  return backend;
}

absl::Status WrongStatus(const VolumeRecord& volume, absl::string_view why, int err) {
  return ErrnoError(absl::StatusCode::kFailedPrecondition, err,
                    absl::StrCat("volume ", volume.id, " is ",
                                 VolumeStatusName(volume.status), "; ", why));
}

absl::Status WithMessage(const absl::Status& s, absl::string_view message) {
  absl::Status out(s.code(), message);
  s.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

absl::Status Annotate(const absl::Status& s, absl::string_view what) {
  if (s.ok()) return s;
  return WithMessage(s, absl::StrCat(what, ": ", s.message()));
}

absl::Status OkIfNotFound(const absl::Status& s) {
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

absl::Status MoveTo(const FlowContext& ctx, VolumeRecord& record, VolumeStatus to) {
  const VolumeStatus from = record.status;
  record.status = to;
  absl::Status s = ctx.store->UpdateVolume(record, from);
  if (!s.ok()) record.status = from;
  return s;
}

namespace {

absl::Status UndoCreate(const FlowContext& ctx, const VolumeRecord& record,
                        const CreateProgress& progress) {
  if (progress.backing_created) {
    VOLCRYPT_RETURN_IF_ERROR(DeleteOwnedBacking(ctx, record));
  }
  if (progress.key_created && !record.encryption_key_id.empty()) {
    VOLCRYPT_RETURN_IF_ERROR(ForgetKey(ctx, record.id, record.encryption_key_id));
  } else {
    // The key step failed, but a key manager whose answer was lost (a
    // timeout, a 5xx after its commit) may have stored the key all the
    // same. Found by its name; if the key manager cannot be asked, the
    // record stays 'creating' and Reconcile() finishes the job.
    VOLCRYPT_RETURN_IF_ERROR(ForgetKeysNamedFor(ctx, record));
  }
  return OkIfNotFound(ctx.store->DeleteVolume(record.id));
}

}  // namespace

absl::Status RollBackCreate(const FlowContext& ctx, const absl::Status& failure,
                            const VolumeRecord& record, const CreateProgress& progress) {
  absl::Status undo = UndoCreate(ctx, record, progress);
  if (undo.ok()) return failure;
  const std::string left = absl::StrCat(
      "rollback incomplete (", undo.message(), "): volume ", record.id,
      " stays 'creating' until Reconcile() finishes the undo");
  return WithMessage(failure, absl::StrCat(failure.message(), "; ", left));
}

absl::Status UndoInterruptedCreate(const FlowContext& ctx, const VolumeRecord& record) {
  ctx.log->Log(LogLevel::kWarning,
               absl::StrCat("volume ", record.id,
                            ": undoing a create interrupted in 'creating'"));
  if (!record.encryption_key_id.empty()) {
    VOLCRYPT_RETURN_IF_ERROR(DeleteOwnedBacking(ctx, record));
    VOLCRYPT_RETURN_IF_ERROR(ForgetKey(ctx, record.id, record.encryption_key_id));
  }
  VOLCRYPT_RETURN_IF_ERROR(ForgetKeysNamedFor(ctx, record));
  return OkIfNotFound(ctx.store->DeleteVolume(record.id));
}

const std::string& SecretOf(const VolumeRecord& record, const AttachmentRecord& attachment) {
  return attachment.secret_uuid.empty() ? record.encryption_key_id : attachment.secret_uuid;
}

DiskSource SourceOf(const VolumeRecord& record) {
  DiskSource source;
  if (record.location.kind == BackendKind::kRbd) {
    source.type = DiskSource::Type::kNetwork;
    source.pool = record.location.pool;
    source.image = record.location.image;
  } else {
    source.path = record.location.path;
  }
  return source;
}

}  // namespace flows
}  // namespace volcrypt
