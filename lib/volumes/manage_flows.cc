#include "lib/volumes/manage_flows.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/util/quote.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/attach_flows.h"
#include "lib/volumes/key_steps.h"
#include "lib/volumes/ownership.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace flows {
namespace {

// What the checks found, ready to record.
struct Checked {
  VolumeRecord record;
  SecretBytes key_to_store;  // kKeyBytes / kPassphrase: what step 2 stores
};

bool StoresKey(ManagedKeyKind kind) {
  return kind == ManagedKeyKind::kKeyBytes || kind == ManagedKeyKind::kPassphrase;
}

// A header's UUID becomes the record's location proof, a libvirt-visible
// text: only a UUID's characters, whatever the header holds.
absl::Status CheckUuid(const VolumeLocation& where, const std::string& uuid) {
  bool ok = !uuid.empty() && uuid.size() <= 40;
  for (char c : uuid) {
    ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                (c >= 'A' && c <= 'F') || c == '-');
  }
  if (ok) return absl::OkStatus();
  return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                    absl::StrCat(where.DebugString(), ": the LUKS header's UUID ",
                                 QuoteForMessage(uuid), " is not a UUID"));
}

// Keys the key manager accepts: 128 to 512 bits in whole bytes.
absl::Status CheckSecretLength(const ManageVolumeRequest& req) {
  const size_t n = req.secret.size();
  if (n >= 16 && n <= 64) return absl::OkStatus();
  const char* what = req.key_kind == ManagedKeyKind::kPassphrase ? "passphrase" : "key";
  return absl::InvalidArgumentError(absl::StrCat(
      "the ", what, " is ", n, " bytes; a key manager stores 16 to 64 bytes"));
}

// The passphrase that must open a keyslot, and what step 2 would store.
absl::StatusOr<SecretBytes> PassphraseFor(const FlowContext& ctx,
                                          const ManageVolumeRequest& req,
                                          Checked& out) {
  switch (req.key_kind) {
    case ManagedKeyKind::kKeyId: {
      VOLCRYPT_RETURN_IF_ERROR(ValidateKeyId(req.key_id));
      absl::StatusOr<SecretBytes> key = ctx.keys->GetKey(req.key_id);
      if (!key.ok()) return Annotate(key.status(), "key " + req.key_id);
      out.record.encryption_key_id = req.key_id;
      return HexPassphrase(*key);
    }
    case ManagedKeyKind::kKeyBytes:
      VOLCRYPT_RETURN_IF_ERROR(CheckSecretLength(req));
      out.key_to_store = req.secret.Clone();
      return HexPassphrase(req.secret);
    case ManagedKeyKind::kPassphrase:
      VOLCRYPT_RETURN_IF_ERROR(CheckSecretLength(req));
      out.key_to_store = req.secret.Clone();
      out.record.key_format = KeyFormat::kPassphrase;
      return req.secret.Clone();
    case ManagedKeyKind::kNone:
      break;
  }
  return absl::InvalidArgumentError("a plain volume has no passphrase");
}

absl::Status CheckSize(const VolumeLocation& where, uint64_t asked, uint64_t offers) {
  if (asked == 0 || asked == offers) return absl::OkStatus();
  return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                    absl::StrCat(where.DebugString(), " offers ", offers,
                                 " usable bytes, not the ", asked, " asked"));
}

// The header, its key and its size, for an encrypted volume.
absl::Status CheckEncrypted(const FlowContext& ctx, const ManageVolumeRequest& req,
                            BlockBackend& backend, const luks::ContentProbe& probe,
                            uint64_t raw, Checked& out) {
  const VolumeLocation& where = req.location;
  if (probe.kind != luks::ContentKind::kLuks) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EINVAL,
                      absl::StrCat(where.DebugString(),
                                   " holds no LUKS header; a plain volume is managed "
                                   "as unencrypted"));
  }
  VOLCRYPT_RETURN_IF_ERROR(CheckUuid(where, probe.uuid));
  absl::StatusOr<luks::LuksHeaderImage> header = backend.ReadLuksHeader(where);
  if (!header.ok()) return Annotate(header.status(), where.DebugString());
  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(header->path());
  if (!info.ok()) return Annotate(info.status(), where.DebugString());
  VOLCRYPT_RETURN_IF_ERROR(CheckUuid(where, info->uuid));
  if (info->uuid != probe.uuid) {
    return ErrnoError(absl::StatusCode::kInvalidArgument, EINVAL,
                      absl::StrCat(where.DebugString(), ": the header's UUID changed "
                                   "while it was read; try again"));
  }
  EncryptionSpec& spec = out.record.encryption;
  spec.format = info->format;
  spec.cipher = info->cipher;
  spec.key_bits = info->key_bits;
  spec.sector_size = info->sector_size;
  spec.kdf = req.key_kind == ManagedKeyKind::kPassphrase ? KdfPolicy::kPassphrase
                                                         : KdfPolicy::kMachineKey;
  spec.engine = req.engine;
  const std::string cannot =
      absl::StrCat(where.DebugString(), " (", LuksFormatName(spec.format), ", ",
                   QuoteForMessage(spec.cipher), ") cannot be attached");
  VOLCRYPT_RETURN_IF_ERROR(Annotate(ValidateSpec(spec), cannot));
  VOLCRYPT_RETURN_IF_ERROR(
      Annotate(ValidateEngine(spec, where.kind == BackendKind::kRbd), cannot));
  // The real payload offset, not volcrypt's own: the size rule for foreign
  // headers (size_rule.h).
  absl::StatusOr<uint64_t> usable =
      UsableBytesForRaw(header->size(), raw, spec.sector_size);
  if (!usable.ok()) return Annotate(usable.status(), where.DebugString());
  VOLCRYPT_RETURN_IF_ERROR(CheckSize(where, req.size_bytes, *usable));
  out.record.size_bytes = *usable;
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes passphrase, PassphraseFor(ctx, req, out));
  absl::StatusOr<int> slot = luks::VerifyPassphrase(header->path(), passphrase);
  if (absl::IsPermissionDenied(slot.status())) {
    return ErrnoError(absl::StatusCode::kPermissionDenied, EPERM,
                      absl::StrCat("the key given opens no keyslot of ",
                                   where.DebugString()));
  }
  if (!slot.ok()) return Annotate(slot.status(), where.DebugString());
  out.record.location_proof = absl::StrCat("luks:", probe.uuid);
  return absl::OkStatus();
}

// Everything, before anything is written.
absl::StatusOr<Checked> Check(const FlowContext& ctx, const ManageVolumeRequest& req) {
  Checked out;
  VolumeRecord& r = out.record;
  if (req.id.empty()) {
    VOLCRYPT_ASSIGN_OR_RETURN(r.id, NewUuid());
  } else {
    r.id = req.id;  // checked by VolumeService at the boundary
  }
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(req.location));
  VOLCRYPT_RETURN_IF_ERROR(CheckNoRecordAt(ctx, req.location));
  absl::Status existing = ctx.store->GetVolume(r.id).status();
  if (existing.ok()) {
    return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                      absl::StrCat("volume ", r.id, " already exists"));
  }
  if (!absl::IsNotFound(existing)) return existing;
  absl::StatusOr<VolumeStat> stat = backend->Stat(req.location);
  if (!stat.ok()) return Annotate(stat.status(), "manage " + req.location.DebugString());
  VOLCRYPT_ASSIGN_OR_RETURN(luks::ContentProbe probe, backend->Probe(req.location));
  r.host = ctx.host;
  r.location = req.location;
  r.user_id = req.user_id;
  r.project_id = req.project_id;
  r.status = VolumeStatus::kAvailable;
  if (req.key_kind == ManagedKeyKind::kNone) {
    if (probe.kind == luks::ContentKind::kLuks) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EEXIST,
                        absl::StrCat(req.location.DebugString(),
                                     " holds a LUKS header; manage it with its key, "
                                     "not as a plain volume"));
    }
    VOLCRYPT_RETURN_IF_ERROR(CheckSize(req.location, req.size_bytes, stat->raw_bytes));
    r.encrypted = false;
    r.size_bytes = stat->raw_bytes;
    r.encryption.engine = req.engine;
    return out;
  }
  VOLCRYPT_RETURN_IF_ERROR(CheckEncrypted(ctx, req, *backend, probe, stat->raw_bytes, out));
  if (StoresKey(req.key_kind)) {
    // Reconcile finds an unrecorded key by its name, so the name must be
    // this manage's alone: an unmanaged volume's key may still carry it.
    absl::StatusOr<std::vector<std::string>> named =
        ctx.keys->FindKeysByName(KeyNameForVolume(r.id));
    if (named.ok() && !named->empty()) {
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST,
                        absl::StrCat("a key named ", KeyNameForVolume(r.id),
                                     " already exists (", (*named)[0],
                                     "); manage the volume with --key-id or another id"));
    }
    if (!named.ok() && !absl::IsUnimplemented(named.status())) return named.status();
  }
  return out;
}

// Steps 1-4 of a manage that stores its key.
absl::Status StoreAndRecord(const FlowContext& ctx, Checked& c, CreateProgress& progress) {
  VolumeRecord& record = c.record;
  const std::string proof = record.location_proof;
  record.location_proof.clear();
  record.status = VolumeStatus::kManaging;
  // 1. The record, without a key. Another request that took the id first
  // keeps it (AlreadyExists): nothing of this manage exists to undo.
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->CreateVolume(record));
  // 2. The key, named for the volume, with the volume as its consumer.
  VOLCRYPT_RETURN_IF_ERROR(StoreVolumeKey(ctx, record, c.key_to_store, progress));
  // 3. Its id.
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->UpdateVolume(record, VolumeStatus::kManaging));
  // 4. 'available', if the location still holds the header that was checked.
  VOLCRYPT_ASSIGN_OR_RETURN(std::string now, ProveLocation(ctx, record));
  if (now != proof) {
    return ErrnoError(absl::StatusCode::kAborted, ESTALE,
                      absl::StrCat(record.location.DebugString(),
                                   " changed while it was being managed"));
  }
  record.location_proof = proof;
  return MoveTo(ctx, record, VolumeStatus::kAvailable);
}

// Removes what a manage added: the key it stored (by id, or by name when the
// id was never recorded) and the record. Never the backing volume.
absl::Status UndoManage(const FlowContext& ctx, const VolumeRecord& record) {
  if (!record.encryption_key_id.empty()) {
    VOLCRYPT_RETURN_IF_ERROR(ForgetKey(ctx, record.id, record.encryption_key_id));
  }
  VOLCRYPT_RETURN_IF_ERROR(ForgetKeysNamedFor(ctx, record));
  return OkIfNotFound(ctx.store->DeleteVolume(record.id));
}

}  // namespace

absl::StatusOr<VolumeRecord> ManageVolume(const FlowContext& ctx,
                                          const ManageVolumeRequest& req) {
  VOLCRYPT_ASSIGN_OR_RETURN(Checked c, Check(ctx, req));
  const std::string id = c.record.id;
  if (!StoresKey(req.key_kind)) {
    // One insert: there is nothing to undo.
    VOLCRYPT_RETURN_IF_ERROR(ctx.store->CreateVolume(c.record));
    if (!c.record.encryption_key_id.empty()) {
      // Barbican's consumer list, as for a created volume; the key was there
      // before and works without it, so a failure is only logged.
      KeyConsumer consumer;
      consumer.resource_id = id;
      absl::Status s = ctx.keys->AddConsumer(c.record.encryption_key_id, consumer);
      if (!s.ok()) {
        ctx.log->Log(LogLevel::kWarning,
                     absl::StrCat("volume ", id, ": not registered as a consumer of key ",
                                  c.record.encryption_key_id, ": ", s.message()));
      }
    }
    return ctx.store->GetVolume(id);
  }
  CreateProgress progress;
  absl::Status s = StoreAndRecord(ctx, c, progress);
  if (s.ok()) return ctx.store->GetVolume(id);
  // Only step 1 answers AlreadyExists, before any key: the id is another's.
  if (absl::IsAlreadyExists(s) && !progress.key_created) return s;
  s = Annotate(s, "manage volume " + id);
  absl::Status undo = UndoManage(ctx, c.record);
  if (undo.ok()) return s;
  const std::string left = absl::StrCat("rollback incomplete (", undo.message(), "): volume ",
                                        id, " stays 'managing' until Reconcile() undoes it");
  return WithMessage(s, absl::StrCat(s.message(), "; ", left));
}

absl::Status UnmanageVolume(const FlowContext& ctx, const std::string& id) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  if (record.status != VolumeStatus::kAvailable) {
    return WrongStatus(record, "only an available volume can be unmanaged");
  }
  if (ctx.store->GetAttachment(id).ok()) {
    return WrongStatus(record, "it has an attachment; detach it first");
  }
  VOLCRYPT_ASSIGN_OR_RETURN(std::vector<SnapshotRecord> snaps, ctx.store->ListSnapshots(id));
  if (!snaps.empty()) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOTEMPTY,
                      absl::StrCat("volume ", id, " has ", snaps.size(),
                                   " snapshot(s); delete them first"));
  }
  VOLCRYPT_RETURN_IF_ERROR(CheckNoDomainUses(ctx, record));  // libvirt's truth
  // Only the record goes, and its key is remembered as released (never
  // volcrypt's to delete again): the store refuses it while snapshots
  // appeared meanwhile, and an attach that starts now cannot record its
  // attachment.
  return ctx.store->ReleaseVolume(id);
}

absl::Status UndoInterruptedManage(const FlowContext& ctx, const VolumeRecord& record) {
  ctx.log->Log(LogLevel::kWarning,
               absl::StrCat("volume ", record.id,
                            ": undoing a manage interrupted in 'managing' (the "
                            "volume itself is left as it is)"));
  return UndoManage(ctx, record);
}

}  // namespace flows
}  // namespace volcrypt
