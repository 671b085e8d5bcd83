#include "lib/volumes/key_steps.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {

std::string KeyNameForVolume(const std::string& volume_id) {
  return absl::StrCat("volcrypt-volume-", volume_id);
}

namespace flows {
namespace {

KeyConsumer ConsumerFor(const std::string& volume_id) {
  KeyConsumer consumer;
  consumer.resource_id = volume_id;
  return consumer;
}

}  // namespace

absl::StatusOr<SecretBytes> CreateVolumeKey(const FlowContext& ctx,
                                            VolumeRecord& record,
                                            CreateProgress& progress) {
  KeyRequest request;
  request.bits = record.encryption.key_bits;
  request.name = KeyNameForVolume(record.id);
  VOLCRYPT_ASSIGN_OR_RETURN(NewKey key, ctx.keys->CreateKey(request));
  record.encryption_key_id = key.id;
  progress.key_created = true;
  VOLCRYPT_RETURN_IF_ERROR(ctx.keys->AddConsumer(key.id, ConsumerFor(record.id)));
  return std::move(key.bytes);
}

absl::Status StoreVolumeKey(const FlowContext& ctx, VolumeRecord& record,
                            const SecretBytes& bytes, CreateProgress& progress) {
  KeyRequest request;
  request.bits = static_cast<int>(bytes.size() * 8);
  request.name = KeyNameForVolume(record.id);
  VOLCRYPT_ASSIGN_OR_RETURN(record.encryption_key_id,
                            ctx.keys->StoreKey(bytes, request));
  progress.key_created = true;
  return ctx.keys->AddConsumer(record.encryption_key_id, ConsumerFor(record.id));
}

absl::StatusOr<SecretBytes> PassphraseOf(const FlowContext& ctx,
                                         const VolumeRecord& record) {
  absl::StatusOr<SecretBytes> key = ctx.keys->GetKey(record.encryption_key_id);
  if (!key.ok()) return Annotate(key.status(), "volume " + record.id);
  // A managed volume's own passphrase is stored as it is (KeyFormat).
  if (record.key_format == KeyFormat::kPassphrase) return std::move(*key);
  return HexPassphrase(*key);
}

absl::Status ForgetKey(const FlowContext& ctx, const std::string& volume_id,
                       const std::string& key_id) {
  if (ctx.keys->IsSharedKey(key_id)) return absl::OkStatus();
  VOLCRYPT_RETURN_IF_ERROR(
      OkIfNotFound(ctx.keys->RemoveConsumer(key_id, ConsumerFor(volume_id))));
  return OkIfNotFound(ctx.keys->DeleteKey(key_id));
}

absl::Status ForgetKeysNamedFor(const FlowContext& ctx, const VolumeRecord& record) {
  absl::StatusOr<std::vector<std::string>> named =
      ctx.keys->FindKeysByName(KeyNameForVolume(record.id));
  if (absl::IsUnimplemented(named.status())) return absl::OkStatus();
  if (!named.ok()) return named.status();
  for (const std::string& key_id : *named) {
    if (key_id == record.encryption_key_id) continue;
    // The name is not proof: an unmanaged volume's key, or one another
    // record took over, can carry it too. Only a key nothing references is
    // this flow's lost one.
    VOLCRYPT_ASSIGN_OR_RETURN(int refs, ctx.store->CountKeyReferences(key_id));
    if (refs == 0) VOLCRYPT_RETURN_IF_ERROR(ForgetKey(ctx, record.id, key_id));
  }
  return absl::OkStatus();
}

}  // namespace flows
}  // namespace volcrypt
