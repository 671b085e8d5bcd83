#include "volcrypt/volume_service.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <future>

#include "absl/strings/str_cat.h"
#include "lib/util/host_name.h"
#include "lib/util/status_macros.h"
#include "volcrypt/attacher.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

absl::Status CheckVolumeId(const std::string& id) {
  if (id.empty() || id.size() > 128) {
    return absl::InvalidArgumentError("volume id must be 1 to 128 characters");
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "volume id '", id, "' may hold only letters, digits, '-', '_', '.'"));
    }
  }
  return absl::OkStatus();
}

// `s` with another message, keeping its code and payloads (the errno).
absl::Status WithMessage(const absl::Status& s, absl::string_view message) {
  absl::Status out(s.code(), message);
  s.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

// Prefixes a status message with the volume it concerns.
absl::Status Annotate(const absl::Status& s, const std::string& what) {
  if (s.ok()) return s;
  return WithMessage(s, absl::StrCat(what, ": ", s.message()));
}

}  // namespace

std::string KeyNameForVolume(const std::string& volume_id) {
  return absl::StrCat("volcrypt-volume-", volume_id);
}

class VolumeService::Impl {
 public:
  explicit Impl(const VolumeServiceOptions& o)
      : keys_(o.keys),
        store_(o.store),
        mapped_(o.mapped),
        rbd_(o.rbd),
        attacher_(o.attacher),
        host_(o.host.empty() ? SystemHostName() : o.host),
        log_(o.logger ? o.logger : DefaultLogger()) {}

  absl::StatusOr<BlockBackend*> BackendFor(const VolumeLocation& where) {
    BlockBackend* b = where.kind == BackendKind::kMapped ? mapped_ : rbd_;
    if (b == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no ", BackendKindName(where.kind), " backend is configured"));
    }
    return b;
  }

  absl::StatusOr<VolumeRecord> CreateVolume(const CreateVolumeRequest& req) {
    // 1. Validate everything: a bad request creates nothing.
    VolumeRecord record;
    if (req.id.empty()) {
      VOLCRYPT_ASSIGN_OR_RETURN(record.id, NewUuid());
    } else {
      VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(req.id));
      record.id = req.id;
    }
    VOLCRYPT_RETURN_IF_ERROR(ValidateSpec(req.encryption));
    VOLCRYPT_RETURN_IF_ERROR(ValidateEngine(
        req.encryption, req.location.kind == BackendKind::kRbd));
    if (req.defer_format && req.location.kind != BackendKind::kMapped) {
      return absl::InvalidArgumentError(
          "deferred formatting applies to mapped volumes only");
    }
    if (req.native_rbd_format &&
        req.encryption.engine != EncryptionEngine::kLibrbd) {
      return absl::InvalidArgumentError(
          "librbd's own format applies to volumes with the librbd engine only");
    }
    VOLCRYPT_ASSIGN_OR_RETURN(
        const uint64_t raw,
        RawBytesForUsable(PayloadOffsetBytes(req.encryption), req.size_bytes,
                          req.encryption.sector_size));
    VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend* backend, BackendFor(req.location));
    VOLCRYPT_RETURN_IF_ERROR(CheckTargetFree(*backend, req.location, raw));
    absl::Status existing = store_->GetVolume(record.id).status();
    if (existing.ok()) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat("volume ", record.id, " already exists"));
    }
    if (!absl::IsNotFound(existing)) return existing;

    record.host = host_;
    record.location = req.location;
    record.size_bytes = req.size_bytes;
    record.encryption = req.encryption;
    record.user_id = req.user_id;
    record.project_id = req.project_id;
    record.status = VolumeStatus::kCreating;

    // 2. Record 'creating', no key yet.
    VOLCRYPT_RETURN_IF_ERROR(store_->CreateVolume(record));
    CreateProgress progress;
    absl::Status s = CreateSteps(record, *backend, raw, req.defer_format,
                                 req.native_rbd_format, progress);
    if (s.ok()) return store_->GetVolume(record.id);
    return RollBackCreate(s, record, *backend, progress);
  }

  absl::Status DeleteVolume(const std::string& id) {
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, store_->GetVolume(id));
    switch (record.status) {
      case VolumeStatus::kAvailable:
      case VolumeStatus::kError:
      case VolumeStatus::kDeleting:
        break;
      default:
        return ErrnoError(
            absl::StatusCode::kFailedPrecondition, EBUSY,
            absl::StrCat("volume ", id, " is ", VolumeStatusName(record.status),
                         "; only an available volume can be deleted"));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps,
                              store_->ListSnapshots(id));
    if (!snaps.empty()) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOTEMPTY,
                        absl::StrCat("volume ", id, " has ", snaps.size(),
                                     " snapshot(s); delete them first"));
    }
    // 1. Mark 'deleting': from here a rerun finishes the job.
    if (record.status != VolumeStatus::kDeleting) {
      const VolumeStatus before = record.status;
      record.status = VolumeStatus::kDeleting;
      VOLCRYPT_RETURN_IF_ERROR(store_->UpdateVolume(record, before));
    }
    // The key id may have moved since the record was read (the fixed-key
    // migration); from 'deleting' on it cannot, so delete what it is now.
    VOLCRYPT_ASSIGN_OR_RETURN(record, store_->GetVolume(id));
    return FinishDelete(record);
  }

  absl::StatusOr<VolumeRecord> ExtendVolume(const std::string& id,
                                            uint64_t new_size) {
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, store_->GetVolume(id));
    if (record.status != VolumeStatus::kAvailable) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat("volume ", id, " is ",
                                     VolumeStatusName(record.status),
                                     "; only an available volume can be extended"));
    }
    if (new_size <= record.size_bytes) {
      return ErrnoError(absl::StatusCode::kOutOfRange, EINVAL,
                        absl::StrCat("volume ", id, " is ", record.size_bytes,
                                     " bytes; the new size ", new_size,
                                     " must be larger"));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend* backend, BackendFor(record.location));
    VOLCRYPT_ASSIGN_OR_RETURN(uint64_t offset, PayloadOffset(*backend, record));
    VOLCRYPT_ASSIGN_OR_RETURN(
        uint64_t raw,
        RawBytesForUsable(offset, new_size, record.encryption.sector_size));
    record.status = VolumeStatus::kExtending;
    VOLCRYPT_RETURN_IF_ERROR(store_->UpdateVolume(record, VolumeStatus::kAvailable));
    absl::Status s = backend->Resize(record.location, raw);
    if (s.ok()) record.size_bytes = new_size;
    record.status = VolumeStatus::kAvailable;
    absl::Status saved = store_->UpdateVolume(record, VolumeStatus::kExtending);
    if (!s.ok()) return Annotate(s, "extend volume " + id);
    VOLCRYPT_RETURN_IF_ERROR(saved);
    return store_->GetVolume(id);
  }

  absl::StatusOr<AttachPlan> PlanAttach(const std::string& id,
                                        const AttachPlanOptions& options) {
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, store_->GetVolume(id));
    if (record.status != VolumeStatus::kAvailable &&
        record.status != VolumeStatus::kInUse) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat("volume ", id, " is ",
                                     VolumeStatusName(record.status),
                                     "; it cannot be attached"));
    }
    return BuildPlan(record, options);
  }

  absl::StatusOr<VolumeRecord> AttachVolume(const std::string& id,
                                            const AttachTarget& target,
                                            const AttachPlanOptions& options) {
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, store_->GetVolume(id));
    if (record.status != VolumeStatus::kAvailable) {
      return ErrnoError(
          absl::StatusCode::kFailedPrecondition, EBUSY,
          absl::StrCat("volume ", id, " is ", VolumeStatusName(record.status),
                       "; only an available volume can be attached (encrypted "
                       "volumes are never multi-attached)"));
    }
    // Impossible combinations are refused before anything is touched.
    VOLCRYPT_RETURN_IF_ERROR(ValidateEngine(
        record.encryption, record.location.kind == BackendKind::kRbd));
    if (target.live && record.encryption.engine == EncryptionEngine::kLibrbd) {
      return absl::FailedPreconditionError(absl::StrCat(
          "volume ", id, " uses the librbd engine, which libvirt 9.0 cannot "
          "hot-plug (QEMU is never given the secret); attach it to the "
          "persistent config only and start the domain"));
    }
    if (!target.live && !target.config) {
      return absl::InvalidArgumentError("attach needs live, config or both");
    }
    VOLCRYPT_RETURN_IF_ERROR(RequireAttacher());

    record.status = VolumeStatus::kAttaching;
    VOLCRYPT_RETURN_IF_ERROR(store_->UpdateVolume(record, VolumeStatus::kAvailable));
    AttachmentRecord attachment{id, host_, target.domain, options.target_dev,
                                target.live, target.config, "attaching", 0,
                                /*secret_uuid=*/record.encryption_key_id};
    absl::Status s = store_->CreateAttachment(attachment);
    bool disk_added = false;
    if (s.ok()) {
      absl::StatusOr<AttachPlan> plan = BuildPlan(record, options);
      s = plan.status();
      if (s.ok()) s = attacher_->Attach(*plan, target);
      disk_added = s.ok();
      if (s.ok()) {
        attachment.status = "attached";
        s = store_->UpdateAttachment(attachment);
      }
      if (s.ok()) {
        record.status = VolumeStatus::kInUse;
        s = store_->UpdateVolume(record, VolumeStatus::kAttaching);
      }
      if (s.ok()) return store_->GetVolume(id);
    }
    absl::Status undo = UndoAttach(record, attachment, disk_added);
    if (!undo.ok()) {
      log_->Log(LogLevel::kError,
                absl::StrCat("volume ", id, ": attach rollback incomplete (",
                             undo.message(), "); Reconcile() will finish it"));
    }
    return s;
  }

  absl::StatusOr<VolumeRecord> DetachVolume(const std::string& id) {
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, store_->GetVolume(id));
    if (record.status != VolumeStatus::kInUse &&
        record.status != VolumeStatus::kDetaching) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EINVAL,
                        absl::StrCat("volume ", id, " is ",
                                     VolumeStatusName(record.status),
                                     ", not attached"));
    }
    VOLCRYPT_RETURN_IF_ERROR(RequireAttacher());
    VOLCRYPT_ASSIGN_OR_RETURN(AttachmentRecord attachment, store_->GetAttachment(id));
    if (record.status == VolumeStatus::kInUse) {
      record.status = VolumeStatus::kDetaching;
      VOLCRYPT_RETURN_IF_ERROR(store_->UpdateVolume(record, VolumeStatus::kInUse));
      attachment.status = "detaching";
      VOLCRYPT_RETURN_IF_ERROR(store_->UpdateAttachment(attachment));
    }
    VOLCRYPT_RETURN_IF_ERROR(RemoveFromLibvirt(record, attachment));
    VOLCRYPT_RETURN_IF_ERROR(store_->DeleteAttachment(id));
    record.status = VolumeStatus::kAvailable;
    VOLCRYPT_RETURN_IF_ERROR(store_->UpdateVolume(record, VolumeStatus::kDetaching));
    return store_->GetVolume(id);
  }

  absl::StatusOr<SnapshotRecord> CreateSnapshot(const std::string& volume_id,
                                                const std::string& snapshot_id) {
    VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(snapshot_id));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord v, store_->GetVolume(volume_id));
    if (v.status != VolumeStatus::kAvailable && v.status != VolumeStatus::kInUse) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EBUSY,
                        absl::StrCat("volume ", volume_id, " is ",
                                     VolumeStatusName(v.status)));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(RbdBackend * rbd, RbdFor(v));
    // The store gives the snapshot the volume's key id as it is then.
    VOLCRYPT_RETURN_IF_ERROR(
        store_->CreateSnapshot({snapshot_id, volume_id, "", "available", 0}));
    absl::Status s = rbd->CreateSnapshot(v.location, SnapshotName(snapshot_id));
    if (!s.ok()) {
      (void)store_->DeleteSnapshot(snapshot_id);
      return s;
    }
    VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps,
                              store_->ListSnapshots(volume_id));
    for (SnapshotRecord& snap : snaps) {
      if (snap.id == snapshot_id) return snap;
    }
    return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                      absl::StrCat("snapshot ", snapshot_id, " vanished while created"));
  }

  absl::Status DeleteSnapshot(const std::string& snapshot_id) {
    VOLCRYPT_ASSIGN_OR_RETURN(SnapshotRecord snap, FindSnapshot(snapshot_id));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord v, store_->GetVolume(snap.volume_id));
    VOLCRYPT_ASSIGN_OR_RETURN(RbdBackend * rbd, RbdFor(v));
    absl::Status s = rbd->RemoveSnapshot(v.location, SnapshotName(snapshot_id));
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    return store_->DeleteSnapshot(snapshot_id);
  }

  absl::StatusOr<VolumeRecord> CloneVolume(const std::string& snapshot_id,
                                           const std::string& new_id,
                                           const VolumeLocation& location) {
    VOLCRYPT_RETURN_IF_ERROR(CheckVolumeId(new_id));
    VOLCRYPT_ASSIGN_OR_RETURN(SnapshotRecord snap, FindSnapshot(snapshot_id));
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord parent, store_->GetVolume(snap.volume_id));
    VOLCRYPT_ASSIGN_OR_RETURN(RbdBackend * rbd, RbdFor(parent));
    if (location.kind != BackendKind::kRbd) {
      return absl::InvalidArgumentError("a clone of an rbd volume is an rbd volume");
    }
    absl::Status exists = rbd->Stat(location).status();
    if (exists.ok()) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat(location.DebugString(), " already exists"));
    }
    if (!absl::IsNotFound(exists)) return exists;
    VolumeRecord record = parent;
    record.id = new_id;
    record.host = host_;
    record.location = location;
    record.encryption_key_id.clear();
    record.status = VolumeStatus::kCreating;
    VOLCRYPT_RETURN_IF_ERROR(store_->CreateVolume(record));
    CreateProgress progress;
    absl::Status s = CloneSteps(parent, snap, record, *rbd, progress);
    if (s.ok()) return store_->GetVolume(new_id);
    return RollBackCreate(s, record, *rbd, progress);
  }

  absl::StatusOr<int> VerifyVolumeKey(const std::string& id) {
    VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, store_->GetVolume(id));
    VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend* backend, BackendFor(record.location));
    absl::StatusOr<SecretBytes> key = keys_->GetKey(record.encryption_key_id);
    if (!key.ok()) return Annotate(key.status(), "volume " + id);
    VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage header,
                              backend->ReadLuksHeader(record.location));
    absl::StatusOr<int> slot =
        luks::VerifyPassphrase(header.path(), HexPassphrase(*key));
    if (!slot.ok()) return Annotate(slot.status(), "volume " + id);
    return slot;
  }

  absl::StatusOr<int> Reconcile(int64_t grace_seconds) {
    const int64_t cutoff = static_cast<int64_t>(std::time(nullptr)) - grace_seconds;
    VolumeFilter mine;
    mine.host = host_;
    VOLCRYPT_ASSIGN_OR_RETURN(std::vector<VolumeRecord> records,
                              store_->ListVolumes(mine));
    int acted = 0;
    absl::Status first_error;
    for (VolumeRecord& record : records) {
      absl::Status s;
      if (record.status == VolumeStatus::kCreating && record.updated_at <= cutoff) {
        s = UndoInterruptedCreate(record);
      } else if (record.status == VolumeStatus::kDeleting) {
        s = FinishDelete(record);
      } else if ((record.status == VolumeStatus::kAttaching &&
                  record.updated_at <= cutoff) ||
                 record.status == VolumeStatus::kDetaching) {
        s = ReconcileAttachment(record);
      } else {
        continue;
      }
      ++acted;
      if (!s.ok() && first_error.ok()) first_error = s;
    }
    if (!first_error.ok()) return first_error;
    return acted;
  }

  const std::string& host() const { return host_; }

 private:
  struct CreateProgress {
    bool key_created = false;
    bool backing_created = false;
  };

  // The target must not exist, except an existing block device for a mapped
  // volume, which must hold nothing recognisable.
  absl::Status CheckTargetFree(BlockBackend& backend, const VolumeLocation& where,
                               uint64_t raw) {
    absl::StatusOr<VolumeStat> stat = backend.Stat(where);
    if (absl::IsNotFound(stat.status())) return absl::OkStatus();
    if (!stat.ok()) return stat.status();
    if (!stat->block_device) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat(where.DebugString(), " already exists"));
    }
    if (stat->raw_bytes < raw) {
      return ErrnoError(absl::StatusCode::kOutOfRange, ENOSPC,
                        absl::StrCat(where.DebugString(), " has ",
                                     stat->raw_bytes, " bytes, ", raw, " needed"));
    }
    VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe, backend.Probe(where));
    if (probe.kind != luks::ContentKind::kNoSignature) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                        absl::StrCat(where.DebugString(), " holds a '",
                                     probe.type, "' signature; refusing to use it"));
    }
    return absl::OkStatus();
  }

  static std::string SnapshotName(const std::string& snapshot_id) {
    return "snapshot-" + snapshot_id;
  }

  absl::StatusOr<RbdBackend*> Rbd() {
    auto* rbd = dynamic_cast<RbdBackend*>(rbd_);
    if (rbd == nullptr) {
      return absl::FailedPreconditionError("no rbd backend is configured");
    }
    return rbd;
  }

  absl::StatusOr<RbdBackend*> RbdFor(const VolumeRecord& v) {
    if (v.location.kind != BackendKind::kRbd) {
      return absl::UnimplementedError(absl::StrCat(
          "volume ", v.id, ": snapshots and clones need an rbd volume"));
    }
    return Rbd();
  }

  absl::StatusOr<SnapshotRecord> FindSnapshot(const std::string& snapshot_id) {
    VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> all, store_->ListSnapshots(""));
    for (SnapshotRecord& s : all) {
      if (s.id == snapshot_id) return s;
    }
    return ErrnoError(absl::StatusCode::kNotFound, ENOENT,
                      absl::StrCat("snapshot ", snapshot_id, " not found"));
  }

  // New key id, same bytes; then the clone itself.
  absl::Status CloneSteps(const VolumeRecord& parent, const SnapshotRecord& snap,
                          VolumeRecord& record, RbdBackend& rbd,
                          CreateProgress& progress) {
    const std::string what = "clone volume " + record.id;
    absl::StatusOr<SecretBytes> key = keys_->GetKey(parent.encryption_key_id);
    if (!key.ok()) return Annotate(key.status(), what);
    KeyRequest request;
    request.bits = static_cast<int>(key->size() * 8);
    request.name = KeyNameForVolume(record.id);
    absl::StatusOr<std::string> key_id = keys_->StoreKey(*key, request);
    if (!key_id.ok()) return Annotate(key_id.status(), what);
    progress.key_created = true;
    record.encryption_key_id = *key_id;
    VOLCRYPT_RETURN_IF_ERROR(store_->UpdateVolume(record, VolumeStatus::kCreating));
    VOLCRYPT_RETURN_IF_ERROR(Annotate(
        rbd.Clone(parent.location, SnapshotName(snap.id), record.location), what));
    progress.backing_created = true;
    record.status = VolumeStatus::kAvailable;
    return store_->UpdateVolume(record, VolumeStatus::kCreating);
  }

  absl::Status RequireAttacher() const {
    if (attacher_ == nullptr) {
      return absl::FailedPreconditionError(
          "no libvirt connection (attacher) is configured");
    }
    return absl::OkStatus();
  }

  // The disk, then the secret unless another disk uses it.
  absl::Status RemoveFromLibvirt(const VolumeRecord& record,
                                 const AttachmentRecord& attachment) {
    AttachTarget target;
    target.domain = attachment.domain;
    target.live = attachment.live;
    target.config = attachment.config;
    absl::Status s = attacher_->Detach(record.id, attachment.target_dev, target);
    // A domain that is gone took the disk with it.
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    // The secret the disk was given, which is not the volume's key id any
    // more if the key moved while attached (the fixed-key migration).
    const std::string& secret = attachment.secret_uuid.empty()
                                    ? record.encryption_key_id
                                    : attachment.secret_uuid;
    return attacher_->RemoveSecretIfUnused(secret).status();
  }

  // Undoes an attach: libvirt first (if the disk may be there), then the
  // attachment and the status.
  absl::Status UndoAttach(VolumeRecord& record, const AttachmentRecord& attachment,
                          bool disk_added) {
    if (disk_added) {
      VOLCRYPT_RETURN_IF_ERROR(RemoveFromLibvirt(record, attachment));
    }
    absl::Status s = store_->DeleteAttachment(record.id);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    const VolumeStatus from = record.status;
    record.status = VolumeStatus::kAvailable;
    return store_->UpdateVolume(record, from);
  }

  // Key, first-use format, secret XML and disk XML for `record`.
  absl::StatusOr<AttachPlan> BuildPlan(const VolumeRecord& record,
                                       const AttachPlanOptions& options) {
    const std::string& id = record.id;
    if (!record.encrypted || record.encryption_key_id.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("volume ", id, " is not encrypted"));
    }
    VOLCRYPT_RETURN_IF_ERROR(ValidateEngine(
        record.encryption, record.location.kind == BackendKind::kRbd));
    VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend* backend, BackendFor(record.location));

    AttachPlan plan;
    plan.volume_id = id;
    plan.secret_uuid = record.encryption_key_id;
    absl::StatusOr<SecretBytes> key = keys_->GetKey(record.encryption_key_id);
    if (!key.ok()) return Annotate(key.status(), "volume " + id);
    plan.passphrase = HexPassphrase(*key);

    // Mapped volumes recorded as encrypted but still plain: format now.
    if (record.location.kind == BackendKind::kMapped) {
      VOLCRYPT_ASSIGN_OR_RETURN(
          FirstUseResult first,
          FormatOnFirstUse(*backend, record.location, record.encryption,
                           plan.passphrase));
      plan.formatted_now = first == FirstUseResult::kFormatted;
      if (plan.formatted_now) {
        log_->Log(LogLevel::kInfo,
                  absl::StrCat("volume ", id, ": formatted at first use"));
      }
    }
    VOLCRYPT_ASSIGN_OR_RETURN(plan.secret_xml,
                              BuildSecretXml(record.encryption_key_id, id,
                                             options.ephemeral_secret));
    DiskXmlOptions disk;
    disk.volume_id = id;
    VOLCRYPT_ASSIGN_OR_RETURN(disk.source, backend->DescribeDisk(record.location));
    disk.format = record.encryption.format;
    disk.engine = record.encryption.engine;
    disk.secret_uuid = record.encryption_key_id;
    disk.target_dev = options.target_dev;
    disk.target_bus = options.target_bus;
    VOLCRYPT_ASSIGN_OR_RETURN(plan.disk_xml, BuildDiskXml(disk));
    return plan;
  }

  absl::Status CreateSteps(VolumeRecord& record, BlockBackend& backend,
                           uint64_t raw, bool defer_format, bool native_format,
                           CreateProgress& progress) {
    const std::string what = "create volume " + record.id;
    // 3. Create the key, named after the volume.
    KeyRequest request;
    request.bits = record.encryption.key_bits;
    request.name = KeyNameForVolume(record.id);
    absl::StatusOr<std::string> key_id = keys_->CreateKey(request);
    if (!key_id.ok()) return Annotate(key_id.status(), what);
    progress.key_created = true;
    record.encryption_key_id = *key_id;
    KeyConsumer consumer;
    consumer.resource_id = record.id;
    VOLCRYPT_RETURN_IF_ERROR(Annotate(keys_->AddConsumer(*key_id, consumer), what));
    absl::StatusOr<SecretBytes> key = keys_->GetKey(*key_id);
    if (!key.ok()) return Annotate(key.status(), what);
    // The header (CPU-bound, ~20 ms of PBKDF2 and AF-split) is built on
    // another core while steps 4 and 5 wait on disk and network.
    std::future<absl::StatusOr<luks::LuksHeaderImage>> header;
    if (!native_format && !defer_format) {
      header = std::async(std::launch::async,
                          [spec = record.encryption, pass = HexPassphrase(*key)] {
                            return luks::BuildHeaderImage(spec, pass);
                          });
    }
    // 4. Record the key id.
    VOLCRYPT_RETURN_IF_ERROR(store_->UpdateVolume(record, VolumeStatus::kCreating));
    // 5. Backing volume and header.
    VOLCRYPT_RETURN_IF_ERROR(Annotate(backend.Create(record.location, raw), what));
    progress.backing_created = true;
    if (native_format) {
      VOLCRYPT_ASSIGN_OR_RETURN(RbdBackend * rbd, Rbd());
      VOLCRYPT_RETURN_IF_ERROR(Annotate(
          rbd->FormatNative(record.location, record.encryption.format,
                            record.encryption.key_bits, HexPassphrase(*key)),
          what));
    } else if (!defer_format) {
      VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage image, header.get());
      VOLCRYPT_RETURN_IF_ERROR(Annotate(
          backend.WriteLuksHeader(record.location, image,
                                  record.encryption.sector_size, false),
          what));
    }
    // 6. Available.
    record.status = VolumeStatus::kAvailable;
    return store_->UpdateVolume(record, VolumeStatus::kCreating);
  }

  // Undoes a failed create or clone and returns `failure`; when the undo
  // cannot finish, the record stays 'creating' and the error says so.
  absl::Status RollBackCreate(const absl::Status& failure, const VolumeRecord& record,
                              BlockBackend& backend, const CreateProgress& progress) {
    absl::Status undo = UndoCreate(record, backend, progress);
    if (undo.ok()) return failure;
    const std::string left = absl::StrCat(
        "rollback incomplete (", undo.message(), "): volume ", record.id,
        " stays 'creating' until Reconcile() finishes the undo");
    log_->Log(LogLevel::kError, absl::StrCat("volume ", record.id, ": ", left));
    return WithMessage(failure, absl::StrCat(failure.message(), "; ", left));
  }

  absl::Status UndoCreate(const VolumeRecord& record, BlockBackend& backend,
                          const CreateProgress& progress) {
    if (progress.backing_created) {
      absl::Status s = backend.Delete(record.location);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    if (progress.key_created && !record.encryption_key_id.empty()) {
      VOLCRYPT_RETURN_IF_ERROR(ForgetKey(record.id, record.encryption_key_id));
    } else {
      // The key step failed, but a key manager whose answer was lost (a
      // timeout, a 5xx after its commit) may have stored the key all the
      // same. Found by its name; if the key manager cannot be asked, the
      // record stays 'creating' and Reconcile() finishes the job.
      VOLCRYPT_RETURN_IF_ERROR(ForgetKeysNamedFor(record));
    }
    absl::Status s = store_->DeleteVolume(record.id);
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  }

  // Forgets the keys named for `record` other than its recorded one: keys a
  // create stored without recording (a crash, a lost answer).
  absl::Status ForgetKeysNamedFor(const VolumeRecord& record) {
    absl::StatusOr<std::vector<std::string>> named =
        keys_->FindKeysByName(KeyNameForVolume(record.id));
    if (absl::IsUnimplemented(named.status())) return absl::OkStatus();
    if (!named.ok()) return named.status();
    for (const std::string& key_id : *named) {
      if (key_id != record.encryption_key_id) {
        VOLCRYPT_RETURN_IF_ERROR(ForgetKey(record.id, key_id));
      }
    }
    return absl::OkStatus();
  }

  // A create interrupted by a crash: the key id may not have been recorded,
  // so keys are also found by name. The backing volume is ours only if a key
  // was recorded (the backing volume is made after that step).
  absl::Status UndoInterruptedCreate(const VolumeRecord& record) {
    log_->Log(LogLevel::kWarning,
              absl::StrCat("volume ", record.id,
                           ": undoing a create interrupted in 'creating'"));
    VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend* backend, BackendFor(record.location));
    if (!record.encryption_key_id.empty()) {
      absl::Status s = backend->Delete(record.location);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
      VOLCRYPT_RETURN_IF_ERROR(ForgetKey(record.id, record.encryption_key_id));
    }
    VOLCRYPT_RETURN_IF_ERROR(ForgetKeysNamedFor(record));
    absl::Status s = store_->DeleteVolume(record.id);
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  }

  absl::Status FinishDelete(const VolumeRecord& record) {
    VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend* backend, BackendFor(record.location));
    // 2. Backing volume first: a key is never gone while its data exists.
    absl::Status s = backend->Delete(record.location);
    if (!s.ok() && !absl::IsNotFound(s)) {
      return Annotate(s, "delete volume " + record.id);
    }
    // 3. The key, unless another record still uses it.
    if (!record.encryption_key_id.empty()) {
      VOLCRYPT_ASSIGN_OR_RETURN(int refs,
                                store_->CountKeyReferences(record.encryption_key_id));
      if (refs <= 1) {
        VOLCRYPT_RETURN_IF_ERROR(ForgetKey(record.id, record.encryption_key_id));
      } else {
        log_->Log(LogLevel::kInfo,
                  absl::StrCat("volume ", record.id, ": key ",
                               record.encryption_key_id, " kept, ", refs - 1,
                               " other record(s) use it"));
      }
    }
    // 4. The record.
    s = store_->DeleteVolume(record.id);
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  }

  // An interrupted attach is undone; an interrupted detach is finished.
  absl::Status ReconcileAttachment(VolumeRecord& record) {
    VOLCRYPT_RETURN_IF_ERROR(RequireAttacher());
    absl::StatusOr<AttachmentRecord> attachment = store_->GetAttachment(record.id);
    if (absl::IsNotFound(attachment.status())) {
      // Crashed before the attachment was recorded: libvirt was not touched.
      const VolumeStatus from = record.status;
      record.status = VolumeStatus::kAvailable;
      return store_->UpdateVolume(record, from);
    }
    if (!attachment.ok()) return attachment.status();
    log_->Log(LogLevel::kWarning,
              absl::StrCat("volume ", record.id, ": finishing an interrupted ",
                           VolumeStatusName(record.status)));
    return UndoAttach(record, *attachment, /*disk_added=*/true);
  }

  // Removes the consumer and deletes the key; not-found is fine; a shared key
  // (the fixed key) is never deleted.
  absl::Status ForgetKey(const std::string& volume_id, const std::string& key_id) {
    if (keys_->IsSharedKey(key_id)) return absl::OkStatus();
    KeyConsumer consumer;
    consumer.resource_id = volume_id;
    absl::Status s = keys_->RemoveConsumer(key_id, consumer);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    s = keys_->DeleteKey(key_id);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    return absl::OkStatus();
  }

  // The payload offset of the volume's header; volcrypt's own offset for a
  // volume not formatted yet.
  absl::StatusOr<uint64_t> PayloadOffset(BlockBackend& backend,
                                         const VolumeRecord& record) {
    absl::StatusOr<luks::LuksHeaderImage> header =
        backend.ReadLuksHeader(record.location);
    if (header.ok()) return header->size();
    if (header.status().code() == absl::StatusCode::kInvalidArgument) {
      return PayloadOffsetBytes(record.encryption);
    }
    return header.status();
  }

  KeyManager* const keys_;
  VolumeStore* const store_;
  BlockBackend* const mapped_;
  BlockBackend* const rbd_;
  Attacher* const attacher_;
  const std::string host_;
  Logger* const log_;
};

VolumeService::VolumeService(const VolumeServiceOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}

VolumeService::~VolumeService() = default;

absl::StatusOr<std::unique_ptr<VolumeService>> VolumeService::Create(
    const VolumeServiceOptions& options) {
  if (options.keys == nullptr || options.store == nullptr) {
    return absl::InvalidArgumentError(
        "a volume service needs a key manager and a volume store");
  }
  if (options.mapped == nullptr && options.rbd == nullptr) {
    return absl::InvalidArgumentError("a volume service needs a backend");
  }
  return std::unique_ptr<VolumeService>(new VolumeService(options));
}

absl::StatusOr<VolumeRecord> VolumeService::CreateVolume(
    const CreateVolumeRequest& request) {
  return impl_->CreateVolume(request);
}
absl::Status VolumeService::DeleteVolume(const std::string& id) {
  return impl_->DeleteVolume(id);
}
absl::StatusOr<VolumeRecord> VolumeService::ExtendVolume(const std::string& id,
                                                         uint64_t new_size) {
  return impl_->ExtendVolume(id, new_size);
}
absl::StatusOr<AttachPlan> VolumeService::PlanAttach(
    const std::string& id, const AttachPlanOptions& options) {
  return impl_->PlanAttach(id, options);
}
absl::StatusOr<VolumeRecord> VolumeService::AttachVolume(
    const std::string& id, const AttachTarget& target,
    const AttachPlanOptions& options) {
  return impl_->AttachVolume(id, target, options);
}
absl::StatusOr<VolumeRecord> VolumeService::DetachVolume(const std::string& id) {
  return impl_->DetachVolume(id);
}
absl::StatusOr<SnapshotRecord> VolumeService::CreateSnapshot(
    const std::string& volume_id, const std::string& snapshot_id) {
  return impl_->CreateSnapshot(volume_id, snapshot_id);
}
absl::Status VolumeService::DeleteSnapshot(const std::string& snapshot_id) {
  return impl_->DeleteSnapshot(snapshot_id);
}
absl::StatusOr<VolumeRecord> VolumeService::CloneVolume(
    const std::string& snapshot_id, const std::string& new_volume_id,
    const VolumeLocation& location) {
  return impl_->CloneVolume(snapshot_id, new_volume_id, location);
}
absl::StatusOr<int> VolumeService::VerifyVolumeKey(const std::string& id) {
  return impl_->VerifyVolumeKey(id);
}
absl::StatusOr<int> VolumeService::Reconcile(int64_t grace_seconds) {
  return impl_->Reconcile(grace_seconds);
}
const std::string& VolumeService::host() const { return impl_->host(); }

}  // namespace volcrypt
