// The C calls for RBD snapshots and clones.
#include "capi/c_handles.h"
#include "capi/c_status.h"
#include "capi/volcrypt.h"
#include "volcrypt/json.h"

using volcrypt::capi::FromStatus;
using volcrypt::capi::Guard;
using volcrypt::capi::NullArgument;
using volcrypt::capi::ReturnString;

extern "C" {

int volcrypt_volume_snapshot(volcrypt_service_t* service, const char* volume_id,
                             const char* snapshot_id, char** json, char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || volume_id == nullptr || snapshot_id == nullptr ||
        json == nullptr) {
      return NullArgument("service, volume_id, snapshot_id and json", errmsg);
    }
    absl::StatusOr<volcrypt::SnapshotRecord> s =
        service->rep->CreateSnapshot(volume_id, snapshot_id);
    if (!s.ok()) return FromStatus(s.status(), errmsg);
    return ReturnString(volcrypt::SnapshotToJson(*s), json, errmsg);
  });
}

int volcrypt_snapshot_delete(volcrypt_service_t* service, const char* snapshot_id,
                             char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || snapshot_id == nullptr) {
      return NullArgument("service and snapshot_id", errmsg);
    }
    return FromStatus(service->rep->DeleteSnapshot(snapshot_id), errmsg);
  });
}

int volcrypt_volume_clone(volcrypt_service_t* service, const char* snapshot_id,
                          const char* new_volume_id, const char* pool, const char* image,
                          char** json, char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || snapshot_id == nullptr || new_volume_id == nullptr ||
        pool == nullptr || image == nullptr || json == nullptr) {
      return NullArgument("service, snapshot_id, new_volume_id, pool, image and json",
                          errmsg);
    }
    absl::StatusOr<volcrypt::VolumeRecord> v = service->rep->CloneVolume(
        snapshot_id, new_volume_id, volcrypt::VolumeLocation::Rbd(pool, image));
    if (!v.ok()) return FromStatus(v.status(), errmsg);
    return ReturnString(volcrypt::VolumeToJson(*v), json, errmsg);
  });
}

}  // extern "C"
