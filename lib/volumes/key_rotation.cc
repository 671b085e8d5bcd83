#include "lib/volumes/key_rotation.h"

#include <utility>
#include <vector>

#include "absl/types/optional.h"

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/volumes/key_steps.h"
#include "volcrypt/attacher.h"
#include "volcrypt/errors.h"
#include "volcrypt/luks.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace flows {
namespace {

// The passphrase of key `key_id`; NotFound if the key is gone.
absl::StatusOr<SecretBytes> PassphraseOfKey(const FlowContext& ctx,
                                            const std::string& key_id) {
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes key, ctx.keys->GetKey(key_id));
  return HexPassphrase(key);
}

// Whether `passphrase` opens a keyslot of the header copy at `path`.
absl::StatusOr<bool> Opens(const std::string& path, const SecretBytes& passphrase) {
  absl::StatusOr<int> slot = luks::VerifyPassphrase(path, passphrase);
  if (slot.ok()) return true;
  if (absl::IsPermissionDenied(slot.status())) return false;
  return slot.status();
}

// The attachment whose libvirt secret must follow the key, or NotFound.
absl::StatusOr<AttachmentRecord> AttachmentOf(const FlowContext& ctx,
                                              const std::string& id) {
  return ctx.store->GetAttachment(id);
}

absl::Status SetSecret(const FlowContext& ctx, const AttachmentRecord& a,
                       const SecretBytes& passphrase) {
  if (ctx.attacher == nullptr) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, ENOTCONN,
                      absl::StrCat("volume ", a.volume_id,
                                   " is attached; its key rotation needs libvirt"));
  }
  return ctx.attacher->SetSecretValue(a.secret_uuid, a.volume_id, passphrase);
}

// Keys named for the volume that no record names: made by a step 1 whose id
// was never recorded. No keyslot was ever made for them.
absl::Status ForgetUnrecordedKeys(const FlowContext& ctx, const VolumeRecord& record) {
  absl::StatusOr<std::vector<std::string>> named =
      ctx.keys->FindKeysByName(KeyNameForVolume(record.id));
  if (absl::IsUnimplemented(named.status())) return absl::OkStatus();
  if (!named.ok()) return named.status();
  for (const std::string& key_id : *named) {
    if (key_id == record.encryption_key_id || key_id == record.rekey_key_id) continue;
    VOLCRYPT_ASSIGN_OR_RETURN(int refs, ctx.store->CountKeyReferences(key_id));
    if (refs == 0) VOLCRYPT_RETURN_IF_ERROR(ForgetKey(ctx, record.id, key_id));
  }
  return absl::OkStatus();
}

// Removes every keyslot `drop` opens from the header of `record`, after
// checking that `keep` opens it and will still open it.
absl::Status RemoveKeyslotsOf(BlockBackend& backend,
                              const VolumeRecord& record, luks::LuksHeaderImage header,
                              const SecretBytes& keep, const SecretBytes& drop) {
  int removed = 0;
  for (;;) {
    VOLCRYPT_ASSIGN_OR_RETURN(bool opens, Opens(header.path(), drop));
    if (!opens) break;
    VOLCRYPT_RETURN_IF_ERROR(luks::RemovePassphrase(header.path(), drop));
    ++removed;
  }
  if (removed == 0) return absl::OkStatus();
  VOLCRYPT_ASSIGN_OR_RETURN(bool still, Opens(header.path(), keep));
  if (!still) {
    return absl::InternalError(absl::StrCat(
        "volume ", record.id, ": removing the old keyslots would lock out the "
        "recorded key; header left as it is"));
  }
  return backend.WriteLuksHeader(record.location, header,
                                 record.encryption.sector_size, /*force=*/true);
}

// Neither key opens what the location holds (a header replaced behind our
// back, or none at all): the location and the recorded key are left alone.
// The other key opens nothing there and only the rotation named it: it goes.
// The volume is marked 'error' for an operator.
absl::Status NotThisRecordsHeader(const FlowContext& ctx, const VolumeRecord& record) {
  VOLCRYPT_ASSIGN_OR_RETURN(int refs, ctx.store->CountKeyReferences(record.rekey_key_id));
  if (refs == 0) VOLCRYPT_RETURN_IF_ERROR(ForgetKey(ctx, record.id, record.rekey_key_id));
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->EndKeyRotation(record.id, VolumeStatus::kError));
  return ErrnoError(absl::StatusCode::kDataLoss, EBADMSG,
                    absl::StrCat("volume ", record.id, ": its recorded key opens no "
                                 "header at ", record.location.DebugString(),
                                 "; left as it is, volume marked 'error' for an operator"));
}

// Steps 1 to 5 on a record in 'rekeying'.
absl::Status RotateSteps(const FlowContext& ctx, VolumeRecord& record,
                         BlockBackend& backend, const AttachmentRecord* attachment) {
  const std::string old_id = record.encryption_key_id;
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes old_key, ctx.keys->GetKey(old_id));
  // 1. The new key, as long as the old one (volumes made elsewhere keep theirs).
  KeyRequest request;
  request.bits = static_cast<int>(old_key.size() * 8);
  request.name = KeyNameForVolume(record.id);
  VOLCRYPT_ASSIGN_OR_RETURN(NewKey fresh, ctx.keys->CreateKey(request));
  if (fresh.id == old_id || ctx.keys->IsSharedKey(fresh.id)) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EINVAL,
                      absl::StrCat("volume ", record.id, ": the key manager gives a "
                                   "shared key, not a new one; nothing to rotate to"));
  }
  KeyConsumer consumer;
  consumer.resource_id = record.id;
  absl::Status consumer_added = ctx.keys->AddConsumer(fresh.id, consumer);
  // 2. Recorded before any keyslot is made for it, even if the consumer
  // failed: the finish then deletes it by its recorded id.
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->SetRotationKey(record.id, "", fresh.id));
  record.rekey_key_id = fresh.id;
  VOLCRYPT_RETURN_IF_ERROR(consumer_added);
  // 3. A keyslot for the new passphrase, authorised by the old one.
  const SecretBytes old_pass = HexPassphrase(old_key);
  const SecretBytes new_pass = HexPassphrase(fresh.bytes);
  VOLCRYPT_ASSIGN_OR_RETURN(luks::LuksHeaderImage header,
                            backend.ReadLuksHeader(record.location));
  absl::StatusOr<int> slot =
      luks::AddPassphrase(header.path(), old_pass, new_pass, KdfPolicy::kMachineKey);
  if (!slot.ok()) return Annotate(slot.status(), "volume " + record.id);
  VOLCRYPT_RETURN_IF_ERROR(backend.WriteLuksHeader(
      record.location, header, record.encryption.sector_size, /*force=*/true));
  // 4. The secret of a running or defined domain now opens with the new key.
  if (attachment != nullptr) {
    VOLCRYPT_RETURN_IF_ERROR(SetSecret(ctx, *attachment, new_pass));
  }
  // 5. The new key id is the record's.
  VOLCRYPT_RETURN_IF_ERROR(ctx.store->SwapRotationKey(record.id, old_id, fresh.id));
  record.encryption_key_id = fresh.id;
  record.rekey_key_id = old_id;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VolumeRecord> RotateKey(const FlowContext& ctx, const std::string& id,
                                       int64_t key_created_before) {
  VOLCRYPT_ASSIGN_OR_RETURN(VolumeRecord record, ctx.store->GetVolume(id));
  if (record.status != VolumeStatus::kAvailable && record.status != VolumeStatus::kInUse) {
    return WrongStatus(record, "only an available or attached volume can be rekeyed");
  }
  if (!record.encrypted || record.encryption_key_id.empty()) {
    return ErrnoError(absl::StatusCode::kFailedPrecondition, EINVAL,
                      absl::StrCat("volume ", id, " has no key to rotate"));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  absl::optional<AttachmentRecord> attachment;
  if (record.status == VolumeStatus::kInUse) {
    VOLCRYPT_ASSIGN_OR_RETURN(attachment, AttachmentOf(ctx, id));
    if (attachment->secret_uuid.empty() || ctx.attacher == nullptr) {
      return ErrnoError(absl::StatusCode::kFailedPrecondition, EINVAL,
                        absl::StrCat("volume ", id, " is attached ",
                                     ctx.attacher == nullptr
                                         ? "and no libvirt connection was given"
                                         : "with a secret named after its key (an "
                                           "attach from before schema 4); detach "
                                           "and attach it again first"));
    }
  }
  VOLCRYPT_RETURN_IF_ERROR(
      ctx.store->BeginKeyRotation(id, record.status, key_created_before));
  record.status = VolumeStatus::kRekeying;
  absl::Status s = RotateSteps(ctx, record, *backend,
                               attachment ? &*attachment : nullptr);
  // Steps 6 on success; the undo (or the rest) on failure: both go by what
  // the header opens with.
  absl::StatusOr<VolumeRecord> now = ctx.store->GetVolume(id);
  absl::Status finished = now.ok() ? FinishRotation(ctx, *now) : now.status();
  if (!s.ok()) {
    if (finished.ok()) return s;
    // Left 'rekeying' (Reconcile finishes it) unless the finish said otherwise.
    return WithMessage(s, absl::StrCat(s.message(), "; then, finishing the rotation: ",
                                       finished.message()));
  }
  VOLCRYPT_RETURN_IF_ERROR(finished);
  return ctx.store->GetVolume(id);
}

absl::Status FinishRotation(const FlowContext& ctx, const VolumeRecord& record) {
  absl::StatusOr<AttachmentRecord> a = AttachmentOf(ctx, record.id);
  if (!a.ok() && !absl::IsNotFound(a.status())) return a.status();
  const VolumeStatus before = a.ok() ? VolumeStatus::kInUse : VolumeStatus::kAvailable;
  VOLCRYPT_RETURN_IF_ERROR(ForgetUnrecordedKeys(ctx, record));
  if (record.rekey_key_id.empty()) return ctx.store->EndKeyRotation(record.id, before);

  VOLCRYPT_ASSIGN_OR_RETURN(BlockBackend * backend, ctx.BackendFor(record.location));
  absl::StatusOr<luks::LuksHeaderImage> read = backend->ReadLuksHeader(record.location);
  // A location that is gone holds no header for either key to open.
  if (absl::IsNotFound(read.status())) return NotThisRecordsHeader(ctx, record);
  if (!read.ok()) return read.status();
  luks::LuksHeaderImage header = *std::move(read);
  VOLCRYPT_ASSIGN_OR_RETURN(SecretBytes recorded,
                            PassphraseOfKey(ctx, record.encryption_key_id));
  absl::StatusOr<SecretBytes> other = PassphraseOfKey(ctx, record.rekey_key_id);
  if (!other.ok() && !absl::IsNotFound(other.status())) return other.status();

  std::string keep_id = record.encryption_key_id;
  std::string drop_id = record.rekey_key_id;
  VOLCRYPT_ASSIGN_OR_RETURN(bool recorded_opens, Opens(header.path(), recorded));
  if (!recorded_opens) {
    absl::StatusOr<bool> other_opens = false;
    if (other.ok()) other_opens = Opens(header.path(), *other);
    if (!other_opens.ok()) return other_opens.status();
    if (!*other_opens) return NotThisRecordsHeader(ctx, record);
    // Only the other key opens the header: it becomes the recorded one.
    VOLCRYPT_RETURN_IF_ERROR(ctx.store->SwapRotationKey(
        record.id, record.encryption_key_id, record.rekey_key_id));
    std::swap(keep_id, drop_id);
    std::swap(recorded, *other);
  }
  // The secret first, so that it opens the header at every instant.
  if (a.ok()) VOLCRYPT_RETURN_IF_ERROR(SetSecret(ctx, *a, recorded));
  if (other.ok()) {
    VOLCRYPT_RETURN_IF_ERROR(
        RemoveKeyslotsOf(*backend, record, std::move(header), recorded, *other));
  }
  VOLCRYPT_ASSIGN_OR_RETURN(int refs, ctx.store->CountKeyReferences(drop_id));
  if (refs == 0) VOLCRYPT_RETURN_IF_ERROR(ForgetKey(ctx, record.id, drop_id));
  return ctx.store->EndKeyRotation(record.id, before);
}

}  // namespace flows
}  // namespace volcrypt
