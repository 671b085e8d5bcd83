#include "lib/volumes/attach_flows.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/migration.h"
#include "volcrypt/attacher.h"
#include "volcrypt/errors.h"
#include "volcrypt/key_manager.h"
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

// Key, first-use format, secret XML and disk XML for `record`, with the
// libvirt secret `secret_uuid`.
absl::StatusOr<AttachPlan> BuildPlan(const FlowContext& ctx, const VolumeRecord& record,
                                     const AttachPlanOptions& options,
                                     const std::string& secret_uuid) {
  const std::string& id = record.id;
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  AttachPlan plan;
  plan.volume_id = id;
  plan.secret_uuid = secret_uuid;
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

// An rbd disk's <auth> names libvirt's ceph secret: missing, it would fail
// in QEMU as "error connecting: Permission denied" after the volume's own
// secret was defined, so it is checked before anything is touched.
absl::Status CheckCephAuth(const FlowContext& ctx, const VolumeRecord& record) {
  if (record.location.kind != BackendKind::kRbd) return absl::OkStatus();
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(DiskSource source, backend->DescribeDisk(record.location));
  if (source.auth_username.empty()) return absl::OkStatus();
  if (source.auth_secret_uuid.empty()) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOKEY,
                      absl::StrCat("attach volume ", record.id, ": client.",
                                   source.auth_username, " uses a cephx key but no libvirt "
                                   "ceph secret is configured for rbd disks' <auth> "
                                   "(--libvirt-ceph-secret; `volcrypt ceph-secret define` "
                                   "makes one)"));
  }
  return Annotate(ctx.attacher->CheckCephSecret(source.auth_secret_uuid, nullptr),
                  "attach volume " + record.id);
}

// The disk, wherever libvirt has it (live and/or persistent, whatever mode
// the record says), then the secret unless a domain still uses it.
// `undo`: the disk may never have been added, so a target holding another
// disk only means ours is not there.
absl::Status RemoveFromLibvirt(const FlowContext& ctx, const VolumeRecord& record,
                               const AttachmentRecord& attachment, bool undo) {
  // A domain that is gone took the disk with it.
  absl::Status detached = OkIfNotFound(
      ctx.attacher->DetachDisk(record.id, attachment.target_dev, attachment.domain));
  if (undo && absl::IsFailedPrecondition(detached)) detached = absl::OkStatus();
  VOLCRYPT_RETURN_IF_ERROR(detached);
  return ctx.attacher->RemoveSecretIfUnused(SecretOf(record, attachment)).status();
}

// Undoes an attach whose attachment row exists: libvirt first, always (the
// secret may be defined even where the disk failed), then the row and the
// status. If libvirt cannot be reached, the row stays and the volume stays
// 'attaching', so that Reconcile finishes the undo: it never forgets.
absl::Status UndoAttach(const FlowContext& ctx, VolumeRecord& record,
                        const AttachmentRecord& attachment) {
  VOLCRYPT_RETURN_IF_ERROR(RemoveFromLibvirt(ctx, record, attachment, /*undo=*/true));
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
  // Callers of a plan keep their own records, and so no secret UUID of
  // ours: theirs is the key id (with this volume's usage, so two volumes
  // on one key still cannot share it in one domain set-up).
  return BuildPlan(ctx, record, options, record.encryption_key_id);
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
  // libvirt before 11.3 hot-plugs a librbd-engine disk without giving QEMU
  // its secret: refused here with the way out, rather than by QEMU.
  if (target.live && record.encryption.engine == EncryptionEngine::kLibrbd &&
      (ctx.attacher == nullptr || !ctx.attacher->ProbeEngines().librbd_live)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "volume ", id, " uses the librbd engine, which this host's libvirt "
        "cannot hot-plug (QEMU is never given the secret); attach it to the "
        "persistent config only and start the domain"));
  }
  if (!target.live && !target.config) {
    return absl::InvalidArgumentError("attach needs live, config or both");
  }
  VOLCRYPT_RETURN_IF_ERROR(RequireAttacher(ctx));
  VOLCRYPT_RETURN_IF_ERROR(CheckCephAuth(ctx, record));

  // A secret of this attach's own: no other volume's detach can remove it.
  VOLCRYPT_ASSIGN_OR_RETURN(std::string secret_uuid, NewUuid());
  VOLCRYPT_RETURN_IF_ERROR(MoveTo(ctx, record, VolumeStatus::kAttaching));
  AttachmentRecord attachment{id, ctx.host, target.domain, options.target_dev,
                              target.live, target.config, "attaching", 0, secret_uuid};
  absl::Status s = ctx.store->CreateAttachment(attachment);
  if (!s.ok()) {
    // libvirt was not touched.
    absl::Status back = MoveTo(ctx, record, VolumeStatus::kAvailable);
    if (!back.ok()) {
      return Annotate(s, absl::StrCat("attach volume ", id, " (rollback incomplete, "
                                      "left for reconcile: ", back.message(), ")"));
    }
    return s;
  }
  absl::StatusOr<AttachPlan> plan = BuildPlan(ctx, record, options, secret_uuid);
  s = plan.status();
  if (s.ok()) s = ctx.attacher->DefineSecret(*plan);
  if (s.ok()) s = ctx.attacher->AttachDisk(*plan, target);
  if (s.ok()) {
    attachment.status = "attached";
    s = ctx.store->UpdateAttachment(attachment);
  }
  if (s.ok()) s = MoveTo(ctx, record, VolumeStatus::kInUse);
  if (s.ok()) return ctx.store->GetVolume(id);
  absl::Status undo = UndoAttach(ctx, record, attachment);
  // The caller learns it from the status alone: a log line besides would
  // make the CLI's one-line error two.
  if (!undo.ok()) {
    return Annotate(s, absl::StrCat("attach volume ", id, " (rollback incomplete, "
                                    "left for reconcile: ", undo.message(), ")"));
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
  VOLCRYPT_RETURN_IF_ERROR(RemoveFromLibvirt(ctx, record, attachment, /*undo=*/false));
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
  return UndoAttach(ctx, record, *attachment);
}

absl::Status CheckNoDomainUses(const FlowContext& ctx, const VolumeRecord& record) {
  if (ctx.attacher == nullptr) return absl::OkStatus();
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<std::string> domains,
                            ctx.attacher->DomainsUsing(record.id, SourceOf(record)));
  if (domains.empty()) return absl::OkStatus();
  return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                    absl::StrCat("volume ", record.id, " is used by libvirt domain(s) ",
                                 absl::StrJoin(domains, ", "), "; detach it first"));
}

absl::StatusOr<int> ReconcileLibvirt(const FlowContext& ctx) {
  if (ctx.attacher == nullptr) return 0;
  // libvirt is read before the records: a secret that an attach defines
  // meanwhile has its attachment row already (rows come first), so it is
  // explained below and never taken for an orphan.
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<LibvirtSecretInfo> secrets,
                            ctx.attacher->ListVolcryptSecrets());
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<DomainDiskInfo> disks,
                            ctx.attacher->ListSerialDisks());
  VolumeFilter mine;
  mine.host = ctx.host;
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<VolumeRecord> records, ctx.store->ListVolumes(mine));
  std::map<std::string, VolumeRecord> volumes;
  std::map<std::string, AttachmentRecord> attachments;
  std::set<std::string> explained;
  for (VolumeRecord& r : records) {
    absl::StatusOr<AttachmentRecord> a = ctx.store->GetAttachment(r.id);
    if (a.ok()) {
      explained.insert(SecretOf(r, *a));
      attachments[r.id] = *a;
    } else if (!absl::IsNotFound(a.status())) {
      return a.status();
    }
    volumes[r.id] = std::move(r);
  }
  // A migration's secret on its destination is explained by the record
  // until the migration ends (lib/volumes/migration.h).
  VOLCRYPT_ASSIGN_OR_RETURN(std::set<std::string> migrating, MigratingSecrets(ctx));
  explained.insert(migrating.begin(), migrating.end());
  std::set<std::string> volcrypt_secrets;
  for (const LibvirtSecretInfo& s : secrets) volcrypt_secrets.insert(s.uuid);

  int acted = 0;
  // Disks that carry one of our volume ids but no record explains.
  for (const DomainDiskInfo& disk : disks) {
    auto v = volumes.find(disk.serial);
    if (v == volumes.end()) continue;  // not a volume of this host's records
    auto a = attachments.find(disk.serial);
    if (a != attachments.end() && a->second.domain == disk.domain &&
        a->second.target_dev == disk.target_dev) {
      continue;  // recorded
    }
    ++acted;
    // Not attached by the record, and decrypted through a secret of ours:
    // a leftover of an attach or detach that went wrong (an older version
    // detached by the recorded mode only); volcrypt made it, so it goes.
    // Anything else is reported, never removed: it may be someone's disk.
    if (a == attachments.end() && v->second.status == VolumeStatus::kAvailable &&
        volcrypt_secrets.count(disk.secret_uuid) != 0) {
      ctx.log->Log(LogLevel::kWarning,
                   absl::StrCat("volume ", disk.serial, ": removing its disk ",
                                disk.target_dev, " from libvirt domain ", disk.domain,
                                ", which no attachment record explains"));
      VOLCRYPT_RETURN_IF_ERROR(OkIfNotFound(
          ctx.attacher->DetachDisk(disk.serial, disk.target_dev, disk.domain)));
      continue;  // its secret is an orphan now, and goes below
    }
    ctx.log->Log(LogLevel::kWarning,
                 absl::StrCat("volume ", disk.serial, " is on ", disk.target_dev,
                              " of libvirt domain ", disk.domain, " (",
                              disk.live ? "live" : "", disk.live && disk.config ? ", " : "",
                              disk.config ? "config" : "",
                              "), which its records do not say; left as it is"));
  }
  // Attachments libvirt no longer has: the domain is gone, or a live-only
  // disk ended with its domain (a libvirtd restart, a shutdown). The volume
  // is detached in fact, so the record follows: its secret goes and it is
  // available again. Asked afresh per volume, since an attach may have
  // finished after the listing above.
  for (auto& [id, attachment] : attachments) {
    VolumeRecord& record = volumes[id];
    if (record.status != VolumeStatus::kInUse) continue;
    bool listed = false;
    for (const DomainDiskInfo& disk : disks) {
      listed = listed || (disk.serial == id && disk.domain == attachment.domain);
    }
    if (listed) continue;
    VOLCRYPT_ASSIGN_OR_RETURN(std::vector<std::string> using_it,
                              ctx.attacher->DomainsUsing(id, SourceOf(record)));
    if (!using_it.empty()) continue;
    ++acted;
    ctx.log->Log(LogLevel::kWarning,
                 absl::StrCat("volume ", id, " is recorded on libvirt domain ",
                              attachment.domain, ", which no longer has its disk; "
                              "recording it detached"));
    VOLCRYPT_RETURN_IF_ERROR(MoveTo(ctx, record, VolumeStatus::kDetaching));
    VOLCRYPT_RETURN_IF_ERROR(UndoAttach(ctx, record, attachment));
    explained.erase(SecretOf(record, attachment));
  }
  // Secrets of ours that no attachment explains and no domain uses.
  for (const LibvirtSecretInfo& s : secrets) {
    if (explained.count(s.uuid) != 0) continue;
    VOLCRYPT_ASSIGN_OR_RETURN(bool removed, ctx.attacher->RemoveSecretIfUnused(s.uuid));
    if (removed) {
      ++acted;
      ctx.log->Log(LogLevel::kWarning,
                   absl::StrCat("removed libvirt secret ", s.uuid, " (", s.usage_id,
                                "), which no attachment record explains"));
    }
  }
  return acted;
}

}  // namespace flows
}  // namespace volcrypt
