// The C calls that bring existing volumes in (manage, unmanage) and store
// given key bytes.
#include "capi/c_handles.h"
#include "capi/c_status.h"
#include "capi/c_struct.h"
#include "capi/volcrypt.h"
#include "volcrypt/json.h"
#include "volcrypt/volume_service.h"

using volcrypt::capi::Fail;
using volcrypt::capi::FromStatus;
using volcrypt::capi::Guard;
using volcrypt::capi::NullArgument;
using volcrypt::capi::ReadStruct;
using volcrypt::capi::ReturnString;
using volcrypt::capi::Str;

extern "C" {

int volcrypt_keys_store(volcrypt_keys_t* keys, const unsigned char* key, size_t len,
                        const char* name, char** id, char** errmsg) {
  return Guard(errmsg, [&] {
    if (keys == nullptr || key == nullptr || name == nullptr || id == nullptr) {
      return NullArgument("keys, key, name and id", errmsg);
    }
    if (len < 16 || len > 64) {
      return Fail(EINVAL, "a key is 16 to 64 bytes", errmsg);
    }
    volcrypt::KeyRequest request;
    request.bits = static_cast<int>(len * 8);
    request.name = name;
    absl::StatusOr<std::string> stored =
        keys->rep->StoreKey(volcrypt::SecretBytes::CopyOf(key, len), request);
    if (!stored.ok()) return FromStatus(stored.status(), errmsg);
    return ReturnString(*stored, id, errmsg);
  });
}


int volcrypt_volume_manage(volcrypt_service_t* service,
                           const volcrypt_manage_request_t* request, char** json,
                           char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || request == nullptr || json == nullptr) {
      return NullArgument("service, request and json", errmsg);
    }
    volcrypt_manage_request_t request_copy;
    if (int r = ReadStruct(request, VOLCRYPT_FIRST_SIZE(volcrypt_manage_request_t, project_id),
                           "volcrypt_manage_request_t", &request_copy, errmsg)) {
      return r;
    }
    request = &request_copy;
    const int ways = (request->key_id != nullptr) + (request->key != nullptr) +
                     (request->unencrypted != 0);
    if (ways != 1) {
      return Fail(EINVAL, "give exactly one of key_id, key or unencrypted", errmsg);
    }
    volcrypt::ManageVolumeRequest r;
    r.id = Str(request->id);
    if (request->path != nullptr) {
      r.location = volcrypt::VolumeLocation::Path(request->path);
    } else {
      r.location = volcrypt::VolumeLocation::Rbd(Str(request->pool), Str(request->image));
    }
    absl::StatusOr<volcrypt::EncryptionEngine> engine =
        volcrypt::ParseEncryptionEngine(Str(request->engine, "qemu"));
    if (!engine.ok()) return FromStatus(engine.status(), errmsg);
    r.engine = *engine;
    if (request->key_id != nullptr) {
      r.key_kind = volcrypt::ManagedKeyKind::kKeyId;
      r.key_id = request->key_id;
    } else if (request->key != nullptr) {
      r.key_kind = request->is_passphrase ? volcrypt::ManagedKeyKind::kPassphrase
                                          : volcrypt::ManagedKeyKind::kKeyBytes;
      r.secret = volcrypt::SecretBytes::CopyOf(request->key, request->key_len);
    } else {
      r.key_kind = volcrypt::ManagedKeyKind::kNone;
    }
    r.size_bytes = request->size_bytes;
    r.user_id = Str(request->user_id);
    r.project_id = Str(request->project_id);
    absl::StatusOr<volcrypt::VolumeRecord> v = service->rep->ManageVolume(r);
    if (!v.ok()) return FromStatus(v.status(), errmsg);
    return ReturnString(volcrypt::VolumeToJson(*v), json, errmsg);
  });
}

int volcrypt_volume_unmanage(volcrypt_service_t* service, const char* id, char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr) return NullArgument("service and id", errmsg);
    return FromStatus(service->rep->UnmanageVolume(id), errmsg);
  });
}

}  // extern "C"
