#include "lib/volumes/volume_lifecycle.h"

#include <future>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/attach_flows.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/ownership.h"
#include "lib/volumes/rbd_flows.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace flows {
namespace {

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
                      absl::StrCat(where.DebugString(), " has ", stat->raw_bytes,
                                   " bytes, ", raw, " needed"));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe, backend.Probe(where));
  if (probe.kind != luks::ContentKind::kNoSignature) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                      absl::StrCat(where.DebugString(), " holds a '", probe.type,
                                   "' signature; refusing to use it"));
  }
  return absl::OkStatus();
}

// Everything a request must satisfy before anything is made; returns the
// raw size of the backing volume.
absl::StatusOr<uint64_t> CheckRequest(const FlowContext& ctx,
                                      const CreateVolumeRequest& req,
                                      BlockBackend** backend) {
  VOLCRYPT_RETURN_IF_ERROR(ValidateSpec(req.encryption));
  VOLCRYPT_RETURN_IF_ERROR(
      ValidateEngine(req.encryption, req.location.kind == BackendKind::kRbd));
  if (req.defer_format && req.location.kind != BackendKind::kMapped) {
    return absl::InvalidArgumentError(
        "deferred formatting applies to mapped volumes only");
  }
  if (req.native_rbd_format && req.encryption.engine != EncryptionEngine::kLibrbd) {
    return absl::InvalidArgumentError(
        "librbd's own format applies to volumes with the librbd engine only");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(
      const uint64_t raw,
      RawBytesForUsable(PayloadOffsetBytes(req.encryption), req.size_bytes,
                        req.encryption.sector_size));
  VOLCRYPT_ASSIGN_OR_RETURN(*backend, ctx.BackendFor(req.location));
  VOLCRYPT_RETURN_IF_ERROR(CheckTargetFree(**backend, req.location, raw));
  VOLCRYPT_RETURN_IF_ERROR(CheckNoRecordAt(ctx, req.location));
  return raw;
}

// Steps 3-6 of a create, on a record already 'creating'.
absl::Status CreateSteps(const FlowContext& ctx, const CreateVolumeRequest& req,
                         VolumeRecord& record, BlockBackend& backend, uint64_t raw,
                         CreateProgress& progress) {
  const std::string what = "create volume " + record.id;
  // 3. The key, named after the volume, and the volume as its consumer.
  absl::StatusOr<SecretBytes> key = CreateVolumeKey(ctx, record, progress);
  if (!key.ok()) return Annotate(key.status(), what);
  const SecretBytes passphrase = HexPassphrase(*key);
  // The header (CPU-bound, ~20 ms of PBKDF2 and AF-split) is built on
  // another core while steps 4 and 5 wait on disk and network.
  const bool write_header = !req.native_rbd_format && !req.defer_format;
  std::future<absl::StatusOr<luks::LuksHeaderImage>> header;
  if (write_header) {
    header = std::async(std::launch::async,
                        [spec = record.encryption, pass = passphrase.Clone()] {
                          return luks::BuildHeaderImage(spec, pass);
                        });
  }
  // 4. Record the key id.
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateVolume(record, VolumeStatus::kCreating));
  // 5. Backing volume and header.
  VOLCRYPT_RETURN_IF_ERROR(Annotate(backend.Create(record.location, raw), what));
  progress.backing_created = true;
  if (req.native_rbd_format) {
    VOLCRYPT_RETURN_IF_ERROR(Annotate(FormatWithLibrbd(ctx, record, passphrase), what));
  } else if (write_header) {
    VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage image, header.get());
    VOLCRYPT_RETURN_IF_ERROR(Annotate(
        backend.WriteLuksHeader(record.location, image, record.encryption.sector_size,
                                /*force=*/false),
        what));
  }
  // 6. Available, with the proof of what the location holds (the header's
  // UUID), which every later destructive step checks (ownership.h).
  if (!req.defer_format) {
    VOLCRYPT_ASSIGN_OR_RETURN(record.location_proof, ProveLocation(ctx, record));
  }
  return MoveTo(ctx, record, VolumeStatus::kAvailable);
}

// The payload offset of the volume's header; volcrypt's own offset for a
// volume not formatted yet.
absl::StatusOr<uint64_t> PayloadOffset(BlockBackend& backend, const VolumeRecord& record) {
  absl::StatusOr<luks::LuksHeaderImage> header = backend.ReadLuksHeader(record.location);
  if (header.ok()) return header->size();
  if (header.status().code() == absl::StatusCode::kInvalidArgument) {
    return PayloadOffsetBytes(record.encryption);
  }
  return header.status();
}

}  // namespace

absl::StatusOr<VolumeRecord> CreateVolume(const FlowContext& ctx,
                                          const CreateVolumeRequest& request) {
  // 1. Validate everything: a bad request creates nothing. The record keeps
  // the sector size used, never "the default" (0).
  CreateVolumeRequest req = request;
  req.encryption.sector_size = EffectiveSectorSize(req.encryption);
  VolumeRecord record;
  if (req.id.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(record.id, NewUuid());
  } else {
    record.id = req.id;  // checked by VolumeService at the boundary
  }
  BlockBackend* backend = nullptr;
  VOLCRYPT_ASSIGN_OR_RETURN(const uint64_t raw, CheckRequest(ctx, req, &backend));
  absl::Status existing = ctx.store->GetVolume(record.id).status();
  if (existing.ok()) {
    return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                      absl::StrCat("volume ", record.id, " already exists"));
  }
  if (!absl::IsNotFound(existing)) return existing;

  record.host = ctx.host;
  record.location = req.location;
  record.size_bytes = req.size_bytes;
  record.encryption = req.encryption;
  record.user_id = req.user_id;
  record.project_id = req.project_id;
  record.status = VolumeStatus::kCreating;

  // 2. Record 'creating', no key yet.
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->CreateVolume(record));
  CreateProgress progress;
  absl::Status s = CreateSteps(ctx, req, record, *backend, raw, progress);
  if (s.ok()) return ctx.store->GetVolume(record.id);
  return RollBackCreate(ctx, s, record, progress);
}

absl::Status DeleteVolume(const FlowContext& ctx, const std::string& id) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  switch (record.status) {
    case VolumeStatus::kAvailable:
    case VolumeStatus::kError:
    case VolumeStatus::kDeleting:
      break;
    default:
      return WrongStatus(record, "only an available volume can be deleted");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps,
                            ctx.store->ListSnapshots(id));
  if (!snaps.empty()) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOTEMPTY,
                      absl::StrCat("volume ", id, " has ", snaps.size(),
                                   " snapshot(s); delete them first"));
  }
  VOLCRYPT_RETURN_IF_ERROR(CheckNoDomainUses(ctx, record));  // libvirt's truth, not ours
  // 1. Mark 'deleting': from here a rerun finishes the job.
  if (record.status != VolumeStatus::kDeleting) {
    VOLCRYPT_RETURN_IF_ERROR(MoveTo(ctx, record, VolumeStatus::kDeleting));
  }
  // The key id may have moved since the record was read (the fixed-key
  // migration); from 'deleting' on it cannot, so delete what it is now.
  VOLCRYPT_ASSIGN_OR_RETURN(record, ctx.store->GetVolume(id));
  return FinishDelete(ctx, record);
}

absl::Status FinishDelete(const FlowContext& ctx, const VolumeRecord& record) {
  // 2. Backing volume first, if it still is the one this record made: a key
  // is never gone while its data exists.
  VOLCRYPT_RETURN_IF_ERROR(
      Annotate(DeleteOwnedBacking(ctx, record), "delete volume " + record.id));
  // 3. The key, unless another record still uses it.
  if (!record.encryption_key_id.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(int refs,
                              ctx.store->CountKeyReferences(record.encryption_key_id));
    if (refs <= 1) {
      VOLCRYPT_RETURN_IF_ERROR(ForgetKey(ctx, record.id, record.encryption_key_id));
    } else {
      ctx.log->Log(LogLevel::kInfo,
                   absl::StrCat("volume ", record.id, ": key ", record.encryption_key_id,
                                " kept, ", refs - 1, " other record(s) use it"));
    }
  }
  // 4. The record.
  return OkIfNotFound(ctx.store->DeleteVolume(record.id));
}

absl::StatusOr<VolumeRecord> ExtendVolume(const FlowContext& ctx, const std::string& id,
                                          uint64_t new_size) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  if (record.status != VolumeStatus::kAvailable) {
    return WrongStatus(record, "only an available volume can be extended");
  }
  if (new_size <= record.size_bytes) {
    return ErrnoError(absl::StatusCode::kOutOfRange, EINVAL,
                      absl::StrCat("volume ", id, " is ", record.size_bytes,
                                   " bytes; the new size ", new_size, " must be larger"));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(uint64_t offset, PayloadOffset(*backend, record));
  VOLCRYPT_ASSIGN_OR_RETURN(
      uint64_t raw, RawBytesForUsable(offset, new_size, record.encryption.sector_size));
  VOLCRYPT_RETURN_IF_ERROR(MoveTo(ctx, record, VolumeStatus::kExtending));
  absl::Status s = backend->Resize(record.location, raw);
  if (s.ok()) record.size_bytes = new_size;
  absl::Status saved = MoveTo(ctx, record, VolumeStatus::kAvailable);
  if (!s.ok()) return Annotate(s, "extend volume " + id);
  VOLCRYPT_RETURN_IF_ERROR(saved);
  return ctx.store->GetVolume(id);
}

absl::Status FinishInterruptedExtend(const FlowContext& ctx, VolumeRecord& record) {
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeStat stat, backend->Stat(record.location));
  VOLCRYPT_ASSIGN_OR_RETURN(uint64_t offset, PayloadOffset(*backend, record));
  if (stat.raw_bytes > offset && stat.raw_bytes - offset > record.size_bytes) {
    record.size_bytes = stat.raw_bytes - offset;
  }
  ctx.log->Log(LogLevel::kWarning,
               absl::StrCat("volume ", record.id, ": finishing an interrupted extend at ",
                            record.size_bytes, " bytes"));
  return MoveTo(ctx, record, VolumeStatus::kAvailable);
}

}  // namespace flows
}  // namespace volcrypt
