// The C calls for key rotation: one volume, and a host's fleet with a
// per-volume progress callback.
#include <algorithm>
#include <ctime>

#include "capi/c_handles.h"
#include "capi/c_status.h"
#include "capi/c_struct.h"
#include "capi/volcrypt.h"
#include "volcrypt/fleet_rotation.h"
#include "volcrypt/json.h"

using volcrypt::capi::FromStatus;
using volcrypt::capi::Guard;
using volcrypt::capi::NullArgument;
using volcrypt::capi::ReadStruct;
using volcrypt::capi::ReturnString;
using volcrypt::capi::Str;

extern "C" {

int volcrypt_volume_rekey(volcrypt_service_t* service, const char* id, char** json,
                          char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr) return NullArgument("service and id", errmsg);
    absl::StatusOr<volcrypt::VolumeRecord> v = service->rep->RotateKey(id);
    if (!v.ok()) return FromStatus(v.status(), errmsg);
    if (json == nullptr) return 0;
    return ReturnString(volcrypt::VolumeToJson(*v), json, errmsg);
  });
}

int volcrypt_keys_rotate(volcrypt_service_t* service, volcrypt_store_t* store,
                         const volcrypt_rotate_options_t* options, char** report_json,
                         char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || store == nullptr || options == nullptr ||
        report_json == nullptr) {
      return NullArgument("service, store, options and report_json", errmsg);
    }
    volcrypt_rotate_options_t options_copy;
    if (int r = ReadStruct(options, VOLCRYPT_FIRST_SIZE(volcrypt_rotate_options_t, context),
                           "volcrypt_rotate_options_t", &options_copy, errmsg)) {
      return r;
    }
    options = &options_copy;
    volcrypt::FleetRotationOptions o;
    o.host = Str(options->host);
    o.key_created_before = options->key_created_before > 0
                               ? options->key_created_before
                               : static_cast<int64_t>(std::time(nullptr));
    o.dry_run = options->dry_run != 0;
    if (options->max_errors != 0) o.max_errors = std::max(options->max_errors, 0);
    if (options->on_item != nullptr) {
      o.on_item = [options](const volcrypt::FleetRotationItem& item,
                            const volcrypt::FleetRotationProgress& p) {
        options->on_item(options->context, volcrypt::FleetRotationItemToJson(item).c_str(),
                         p.done, p.total);
      };
    }
    absl::StatusOr<volcrypt::FleetRotationReport> r =
        volcrypt::RotateFleetKeys(*service->rep, *store->rep, o);
    if (!r.ok()) return FromStatus(r.status(), errmsg);
    return ReturnString(volcrypt::FleetRotationReportToJson(*r), report_json, errmsg);
  });
}

}  // extern "C"
