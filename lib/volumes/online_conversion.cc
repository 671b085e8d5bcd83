// Online conversion (online_conversion.h): the offline flow's row,
// destination, swap and finish around libvirt's block copy.
#include "lib/volumes/online_conversion.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "lib/attach/block_copy.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/conversion.h"
#include "lib/volumes/online_plain.h"
#include "volcrypt/attach_xml.h"
#include "volcrypt/attacher.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace flows {
namespace {

absl::StatusOr<AttachmentRecord> LiveAttachment(const FlowContext& ctx,
                                                const VolumeRecord& record) {
  absl::StatusOr<AttachmentRecord> a = ctx.store->GetAttachment(record.id);
  if (absl::IsNotFound(a.status()) || (a.ok() && (a->status != "attached" || !a->live))) {
    return WrongStatus(record, "it is not attached to a running domain");
  }
  return a;
}

// Step 3. DefineSecret takes the usage from the plan's volume id; the
// conversion's usage is ConversionSecretUsageId, hence "<id>/<uuid>".
absl::Status DefineDestinationSecret(const FlowContext& ctx, const std::string& id,
                                     const std::string& uuid, const SecretBytes& passphrase) {
  AttachPlan plan;
  plan.volume_id = absl::StrCat(id, "/", uuid);
  plan.secret_uuid = uuid;
  VOLCRYPT_ASSIGN_OR_RETURN(plan.secret_xml, BuildConversionSecretXml(uuid, id, false));
  plan.passphrase = passphrase.Clone();
  return ctx.attacher->DefineSecret(plan);
}

// Before the pivot: the copy (if one still mirrors to our destination) is
// aborted, the destination's secret, the destination and the new key go,
// and the volume is 'in-use' on its source again.
absl::Status UndoOnline(const FlowContext& ctx, const std::string& id,
                        const AttachmentRecord& a, const std::string& new_secret) {
  absl::StatusOr<absl::optional<LiveDiskState>> live =
      ctx.attacher->InspectLiveDisk(a.domain, a.target_dev);
  if (live.ok() && *live && (*live)->copying) {
    if ((*live)->copy_secret_uuid != new_secret) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat("volume ", id, ": a block copy that is not its "
                                     "conversion's runs on ", a.target_dev));
    }
    // Until the job is gone QEMU writes into the destination: it stays.
    VOLCRYPT_RETURN_IF_ERROR(ctx.attacher->AbortBlockCopy(a.domain, a.target_dev));
  } else if (!live.ok() && !absl::IsFailedPrecondition(live.status()) &&
             !absl::IsNotFound(live.status())) {
    return live.status();  // libvirt unreachable: cannot tell whether it mirrors
  }
  if (!new_secret.empty()) {
    VOLCRYPT_RETURN_IF_ERROR(ctx.attacher->RemoveSecretIfUnused(new_secret).status());
  }
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord row, ctx.store->GetConversion(id));
  VOLCRYPT_RETURN_IF_ERROR(ForgetAdoptedAttachment(ctx, row));  // a plain volume's
  return UndoConversion(ctx, id);
}

absl::Status RollBack(const FlowContext& ctx, const std::string& id, const AttachmentRecord& a,
                      const std::string& new_secret, const absl::Status& failure) {
  absl::Status undo = UndoOnline(ctx, id, a, new_secret);
  if (undo.ok()) return failure;
  return WithMessage(failure, absl::StrCat(failure.message(), "; rollback incomplete (",
                                           undo.message(), "): volume ", id,
                                           " stays 'converting' until Reconcile() undoes it"));
}

// After the pivot: steps 5 to 8.
absl::Status Forward(const FlowContext& ctx, const std::string& id, const std::string& old_secret,
                     const std::string& new_secret) {
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord row, ctx.store->GetConversion(id));
  if (row.phase == ConversionPhase::kCopying) {
    VOLCRYPT_RETURN_IF_ERROR(SwapConversion(ctx, id).status());
  }
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->SetAttachmentSecret(id, old_secret, new_secret));
  if (!old_secret.empty() && old_secret != new_secret) {
    VOLCRYPT_RETURN_IF_ERROR(ctx.attacher->RemoveSecretIfUnused(old_secret).status());
  }
  return FinishConversion(ctx, id);
}

// Which secret libvirt's disk `a` of volume `id` decrypts through: the live
// disk's if the domain runs, else the persistent config's; "" if no
// domain has it (then nothing tells which side holds the guest's last
// writes). A plain disk's is "".
absl::StatusOr<absl::optional<std::string>> DiskSecret(const FlowContext& ctx,
                                                       const std::string& id,
                                                       const AttachmentRecord& a) {
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDiskInfo> disks, ctx.attacher->ListSerialDisks());
  for (const DomainDiskInfo& d : disks) {
    if (d.serial == id && d.domain == a.domain && d.target_dev == a.target_dev) {
      return absl::optional<std::string>(d.secret_uuid);
    }
  }
  return absl::optional<std::string>();
}

}  // namespace

absl::StatusOr<bool> IsOnlineConversion(const FlowContext& ctx, const std::string& id) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  if (record.status == VolumeStatus::kInUse) return true;
  if (record.status != VolumeStatus::kAvailable || record.encrypted) return false;
  // A plain volume a running domain holds (online_plain.h).
  VOLCRYPT_ASSIGN_OR_RETURN(absl::optional<DomainDiskInfo> disk, FindPlainLiveDisk(ctx, record));
  return disk.has_value();
}

absl::StatusOr<VolumeRecord> ConvertVolumeOnline(const FlowContext& ctx,
                                                 const ConvertVolumeRequest& req) {
  // 0. Checks.
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(req.id));
  if (ctx.attacher == nullptr) {
    return WrongStatus(record, "it is attached and no libvirt connection is configured",
                       EOPNOTSUPP);
  }
  // A plain volume's attachment is libvirt's until step 1b records it.
  const bool plain = record.status == VolumeStatus::kAvailable;
  absl::optional<DomainDiskInfo> plain_disk;
  AttachmentRecord a;
  if (plain) {
    VOLCRYPT_ASSIGN_OR_RETURN(plain_disk, FindPlainLiveDisk(ctx, record));
    if (!plain_disk) return WrongStatus(record, "no running libvirt domain holds it");
    a.domain = plain_disk->domain;
    a.target_dev = plain_disk->target_dev;
  } else {
    VOLCRYPT_ASSIGN_OR_RETURN(a, LiveAttachment(ctx, record));
  }
  // A librbd-engine destination is opened live by blockcopy, which needs
  // what hot-plug needs: a libvirt that hands QEMU the disk's secret (11.3
  // does, 9.0 does not; engine_policy.h). Asked of the probe, not assumed.
  if (req.encryption.engine == EncryptionEngine::kLibrbd &&
      !ctx.attacher->ProbeEngines().librbd_live) {
    return ErrnoError(absl::StatusCode::kUnimplemented, ENOTSUP,
                      absl::StrCat("volume ", req.id, " is attached: this host's libvirt "
                                   "cannot open a librbd-encrypted disk live (QEMU gets no "
                                   "secret for it); convert it to the qemu engine (LUKS1), "
                                   "or detach it and convert offline"));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(absl::optional<LiveDiskState> live,
                            ctx.attacher->InspectLiveDisk(a.domain, a.target_dev));
  if (!live || live->serial != req.id) {
    return WrongStatus(record, absl::StrCat("libvirt domain ", a.domain, " has no disk of it on ",
                                            a.target_dev));
  }
  if (live->copying) return WrongStatus(record, "a block copy already runs on its disk");
  const std::string old_secret = plain ? std::string() : SecretOf(record, a);

  // 1, 1b, 2. The row, a plain volume's attachment, then the destination
  // with its new key.
  VOLCRYPT_ASSIGN_OR_RETURN(ConversionRecord row,
                            BeginConversion(ctx, req, record.status, /*online=*/true));
  if (plain) {
    absl::StatusOr<AttachmentRecord> adopted = AdoptAttachment(ctx, req.id, *plain_disk);
    if (!adopted.ok()) return RollBack(ctx, req.id, a, "", adopted.status());
    a = *adopted;
  }
  absl::StatusOr<ConversionDestination> dest = CreateConversionDestination(ctx, row);
  if (!dest.ok()) return RollBack(ctx, req.id, a, "", dest.status());
  const std::string new_secret = ConversionSecretUuid(req.id, row.other_key_id);

  // 3. Its libvirt secret.
  absl::Status defined = DefineDestinationSecret(ctx, req.id, new_secret, dest->passphrase);
  if (!defined.ok()) return RollBack(ctx, req.id, a, new_secret, defined);

  // 4. The copy and the pivot; the row's journal is refreshed as it runs,
  // which tells Reconcile on another host that its owner lives.
  BlockCopyRequest copy;
  copy.domain = a.domain;
  copy.target_dev = a.target_dev;
  copy.volume_id = req.id;
  absl::StatusOr<BlockBackend*> backend = ctx.BackendFor(row.other_location);
  if (!backend.ok()) return RollBack(ctx, req.id, a, new_secret, backend.status());
  absl::StatusOr<DiskSource> source = (*backend)->DescribeDisk(row.other_location);
  if (!source.ok()) return RollBack(ctx, req.id, a, new_secret, source.status());
  copy.destination.source = *source;
  copy.destination.format = row.other_encryption.format;
  copy.destination.engine = row.other_encryption.engine;
  copy.destination.secret_uuid = new_secret;
  copy.destination_payload_bytes = record.size_bytes;
  copy.bandwidth = req.bandwidth;
  auto last_journal = std::chrono::steady_clock::now();
  copy.on_progress = [&](uint64_t copied, uint64_t total) {
    if (req.progress) req.progress(copied, total);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_journal > std::chrono::seconds(5)) {
      last_journal = now;
      row.copied_bytes = copied;
      (void)ctx.store->UpdateConversion(row);  // a lease refresh; the copy goes on
    }
    return true;
  };
  absl::Status copied = CopyAndPivot(*ctx.attacher, copy);
  if (!copied.ok()) {
    // A pivot whose answer was lost still counts: libvirt's disk decides.
    absl::StatusOr<absl::optional<std::string>> now = DiskSecret(ctx, req.id, a);
    if (!now.ok() || *now != new_secret) return RollBack(ctx, req.id, a, new_secret, copied);
  }

  // 5 to 8.
  absl::Status forward = Forward(ctx, req.id, old_secret, new_secret);
  if (!forward.ok()) {
    return WithMessage(forward, absl::StrCat("volume ", req.id, " runs on its new location, "
                                             "but the rest failed (", forward.message(),
                                             "); Reconcile() finishes it"));
  }
  return ctx.store->GetVolume(req.id);
}

absl::StatusOr<bool> ReconcileOnlineConversion(const FlowContext& ctx,
                                               const VolumeRecord& record, int64_t cutoff) {
  absl::StatusOr<ConversionRecord> row = ctx.store->GetConversion(record.id);
  if (!row.ok() || !row->online) return false;  // the offline rule's
  if (row->updated_at > cutoff) return false;
  if (!ConversionOwnerIsGone(row->owner) && row->updated_at > cutoff - 600) return false;
  if (ctx.attacher == nullptr) {
    return WrongStatus(record, "its online conversion needs libvirt to be reconciled");
  }
  absl::StatusOr<AttachmentRecord> adopted = ctx.store->GetAttachment(record.id);
  if (absl::IsNotFound(adopted.status()) && AdoptsAttachment(*row) &&
      row->phase == ConversionPhase::kCopying) {
    // A plain volume's conversion killed before step 1b (or its undo
    // after it): nothing of it in libvirt.
    VOLCRYPT_RETURN_IF_ERROR(UndoConversion(ctx, record.id));
    return true;
  }
  VOLCRYPT_ASSIGN_OR_RETURN(AttachmentRecord a, std::move(adopted));
  if (row->phase == ConversionPhase::kSwapped) {
    // The record names the new key: the new secret follows from it; the
    // attachment still names the old secret unless step 6 was done.
    const std::string new_secret = ConversionSecretUuid(record.id, record.encryption_key_id);
    ctx.log->Log(LogLevel::kWarning,
                 absl::StrCat("volume ", record.id, ": finishing an interrupted online conversion"));
    VOLCRYPT_RETURN_IF_ERROR(Forward(ctx, record.id, a.secret_uuid, new_secret));
    return true;
  }
  if (row->other_key_id.empty()) {  // killed before any secret could exist
    VOLCRYPT_RETURN_IF_ERROR(ForgetAdoptedAttachment(ctx, *row));
    VOLCRYPT_RETURN_IF_ERROR(UndoConversion(ctx, record.id));
    return true;
  }
  const std::string new_secret = ConversionSecretUuid(record.id, row->other_key_id);
  VOLCRYPT_ASSIGN_OR_RETURN(absl::optional<std::string> uses, DiskSecret(ctx, record.id, a));
  if (uses == new_secret) {
    ctx.log->Log(LogLevel::kWarning,
                 absl::StrCat("volume ", record.id, ": its disk was switched before a crash; "
                              "finishing the online conversion"));
    VOLCRYPT_RETURN_IF_ERROR(Forward(ctx, record.id, SecretOf(record, a), new_secret));
    return true;
  }
  if (!uses) {
    return WrongStatus(record, absl::StrCat("libvirt domain ", a.domain, " no longer has its "
                                            "disk, so nothing tells whether its interrupted "
                                            "online conversion switched over; left "
                                            "'converting' for an operator"));
  }
  ctx.log->Log(LogLevel::kWarning,
               absl::StrCat("volume ", record.id, ": undoing an interrupted online conversion"));
  VOLCRYPT_RETURN_IF_ERROR(UndoOnline(ctx, record.id, a, new_secret));
  return true;
}

}  // namespace flows
}  // namespace volcrypt
