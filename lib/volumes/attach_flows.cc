#include "lib/volumes/attach_flows.h"

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/key_steps.h"
#include "volcrypt/attacher.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"

namespace volcrypt {
namespace flows {
namespace {

absl::Status RequireAttacher(const FlowContext& ctx) {
  if (ctx.attacher == nullptr) {
    return absl::FailedPreconditionError(
        "no libvirt connection (attacher) is configured");
  }
  return absl::OkStatus();
}

// What every attach needs of a record, checked before anything is touched.
absl::Status CheckAttachable(const VolumeRecord& record) {
  if (!record.encrypted || record.encryption_key_id.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("volume ", record.id, " is not encrypted"));
  }
  return ValidateEngine(record.encryption, record.location.kind == BackendKind::kRbd);
}

// Key, first-use format, secret XML and disk XML for `record`.
absl::StatusOr<AttachPlan> BuildPlan(const FlowContext& ctx, const VolumeRecord& record,
                                     const AttachPlanOptions& options) {
  const std::string& id = record.id;
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  AttachPlan plan;
  plan.volume_id = id;
  plan.secret_uuid = record.encryption_key_id;
  VOLCRYPT_ASSIGN_OR_RETURN(plan.passphrase, PassphraseOf(ctx, record));

  // Mapped volumes recorded as encrypted but still plain: format now.
  if (record.location.kind == BackendKind::kMapped) {
    VOLCRYPT_ASSIGN_OR_RETURN(
        FirstUseResult first,
        FormatOnFirstUse(*backend, record.location, record.encryption, plan.passphrase));
    plan.formatted_now = first == FirstUseResult::kFormatted;
    if (plan.formatted_now) {
      ctx.log->Log(LogLevel::kInfo, absl::StrCat("volume ", id, ": formatted at first use"));
    }
  }
  VOLCRYPT_ASSIGN_OR_RETURN(plan.secret_xml,
                            BuildSecretXml(plan.secret_uuid, id, options.ephemeral_secret));
  DiskXmlOptions disk;
  disk.volume_id = id;
  VOLCRYPT_ASSIGN_OR_RETURN(disk.source, backend->DescribeDisk(record.location));
  disk.format = record.encryption.format;
  disk.engine = record.encryption.engine;
  disk.secret_uuid = plan.secret_uuid;
  disk.target_dev = options.target_dev;
  disk.target_bus = options.target_bus;
  VOLCRYPT_ASSIGN_OR_RETURN(plan.disk_xml, BuildDiskXml(disk));
  return plan;
}

// The disk, then the secret unless another disk uses it.
absl::Status RemoveFromLibvirt(const FlowContext& ctx, const VolumeRecord& record,
                               const AttachmentRecord& attachment) {
  AttachTarget target;
  target.domain = attachment.domain;
  target.live = attachment.live;
  target.config = attachment.config;
  // A domain that is gone took the disk with it.
  VOLCRYPT_RETURN_IF_ERROR(OkIfNotFound(
      ctx.attacher->Detach(record.id, attachment.target_dev, target)));
  // The secret the disk was given, which is not the volume's key id any
  // more if the key moved while attached (the fixed-key migration).
  const std::string& secret = attachment.secret_uuid.empty()
                                  ? record.encryption_key_id
                                  : attachment.secret_uuid;
  return ctx.attacher->RemoveSecretIfUnused(secret).status();
}

// Undoes an attach: libvirt first (if the disk may be there), then the
// attachment and the status.
absl::Status UndoAttach(const FlowContext& ctx, VolumeRecord& record,
                        const AttachmentRecord& attachment, bool disk_added) {
  if (disk_added) {
    VOLCRYPT_RETURN_IF_ERROR(RemoveFromLibvirt(ctx, record, attachment));
  }
  VOLCRYPT_RETURN_IF_ERROR(OkIfNotFound(ctx.store->DeleteAttachment(record.id)));
  return MoveTo(ctx, record, VolumeStatus::kAvailable);
}

}  // namespace

absl::StatusOr<AttachPlan> PlanAttach(const FlowContext& ctx, const std::string& id,
                                      const AttachPlanOptions& options) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  if (record.status != VolumeStatus::kAvailable && record.status != VolumeStatus::kInUse) {
    return WrongStatus(record, "it cannot be attached");
  }
  VOLCRYPT_RETURN_IF_ERROR(CheckAttachable(record));
  return BuildPlan(ctx, record, options);
}

absl::StatusOr<VolumeRecord> AttachVolume(const FlowContext& ctx, const std::string& id,
                                          const AttachTarget& target,
                                          const AttachPlanOptions& options) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  if (record.status != VolumeStatus::kAvailable) {
    return WrongStatus(record,
                       "only an available volume can be attached (encrypted "
                       "volumes are never multi-attached)");
  }
  // Impossible combinations are refused before anything is touched.
  VOLCRYPT_RETURN_IF_ERROR(CheckAttachable(record));
  if (target.live && record.encryption.engine == EncryptionEngine::kLibrbd) {
    return absl::FailedPreconditionError(absl::StrCat(
        "volume ", id, " uses the librbd engine, which libvirt 9.0 cannot "
        "hot-plug (QEMU is never given the secret); attach it to the "
        "persistent config only and start the domain"));
  }
  if (!target.live && !target.config) {
    return absl::InvalidArgumentError("attach needs live, config or both");
  }
  VOLCRYPT_RETURN_IF_ERROR(RequireAttacher(ctx));

  VOLCRYPT_RETURN_IF_ERROR(MoveTo(ctx, record, VolumeStatus::kAttaching));
  AttachmentRecord attachment{id, ctx.host, target.domain, options.target_dev,
                              target.live, target.config, "attaching", 0,
                              /*secret_uuid=*/record.encryption_key_id};
  absl::Status s = ctx.store->CreateAttachment(attachment);
  bool disk_added = false;
  if (s.ok()) {
    absl::StatusOr<AttachPlan> plan = BuildPlan(ctx, record, options);
    s = plan.status();
    if (s.ok()) s = ctx.attacher->Attach(*plan, target);
    disk_added = s.ok();
    if (s.ok()) {
      attachment.status = "attached";
      s = ctx.store->UpdateAttachment(attachment);
    }
    if (s.ok()) s = MoveTo(ctx, record, VolumeStatus::kInUse);
    if (s.ok()) return ctx.store->GetVolume(id);
  }
  absl::Status undo = UndoAttach(ctx, record, attachment, disk_added);
  if (!undo.ok()) {
    ctx.log->Log(LogLevel::kError,
                 absl::StrCat("volume ", id, ": attach rollback incomplete (",
                              undo.message(), "); Reconcile() will finish it"));
  }
  return s;
}

absl::StatusOr<VolumeRecord> DetachVolume(const FlowContext& ctx, const std::string& id) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  if (record.status != VolumeStatus::kInUse && record.status != VolumeStatus::kDetaching) {
    return WrongStatus(record, "it is not attached", EINVAL);
  }
  VOLCRYPT_RETURN_IF_ERROR(RequireAttacher(ctx));
  VOLCRYPT_ASSIGN_OR_RETURN(AttachmentRecord attachment, ctx.store->GetAttachment(id));
  if (record.status == VolumeStatus::kInUse) {
    VOLCRYPT_RETURN_IF_ERROR(MoveTo(ctx, record, VolumeStatus::kDetaching));
    attachment.status = "detaching";
    VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateAttachment(attachment));
  }
  VOLCRYPT_RETURN_IF_ERROR(RemoveFromLibvirt(ctx, record, attachment));
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->DeleteAttachment(id));
  VOLCRYPT_RETURN_IF_ERROR(MoveTo(ctx, record, VolumeStatus::kAvailable));
  return ctx.store->GetVolume(id);
}

absl::Status ReconcileAttachment(const FlowContext& ctx, VolumeRecord& record) {
  VOLCRYPT_RETURN_IF_ERROR(RequireAttacher(ctx));
  absl::StatusOr<AttachmentRecord> attachment = ctx.store->GetAttachment(record.id);
  if (absl::IsNotFound(attachment.status())) {
    // Crashed before the attachment was recorded: libvirt was not touched.
    return MoveTo(ctx, record, VolumeStatus::kAvailable);
  }
  if (!attachment.ok()) return attachment.status();
  ctx.log->Log(LogLevel::kWarning,
               absl::StrCat("volume ", record.id, ": finishing an interrupted ",
                            VolumeStatusName(record.status)));
  return UndoAttach(ctx, record, *attachment, /*disk_added=*/true);
}

}  // namespace flows
}  // namespace volcrypt
