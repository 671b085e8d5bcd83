// The C call for copy-conversion (VolumeService::ConvertVolume), with a
// progress callback.
#include "capi/c_handles.h"
#include "capi/c_status.h"
#include "capi/c_struct.h"
#include "capi/volcrypt.h"
#include "volcrypt/json.h"

using volcrypt::capi::FromStatus;
using volcrypt::capi::Guard;
using volcrypt::capi::NullArgument;
using volcrypt::capi::ReadStruct;
using volcrypt::capi::ReturnString;
using volcrypt::capi::Str;

extern "C" {

int volcrypt_volume_convert(volcrypt_service_t* service, const char* id,
                            const volcrypt_convert_options_t* options, char** json,
                            char** errmsg) {
  return Guard(errmsg, [&] {
    if (service == nullptr || id == nullptr || options == nullptr) {
      return NullArgument("service, id and options", errmsg);
    }
    volcrypt_convert_options_t copy;
    if (int r = ReadStruct(options, VOLCRYPT_FIRST_SIZE(volcrypt_convert_options_t, context),
                           "volcrypt_convert_options_t", &copy, errmsg)) {
      return r;
    }
    options = &copy;
    if ((options->path == nullptr) == (options->pool == nullptr && options->image == nullptr)) {
      return volcrypt::capi::Fail(EINVAL, "give a target path, or a pool and an image", errmsg);
    }
    volcrypt::ConvertVolumeRequest r;
    r.id = id;
    r.kind = options->reencrypt != 0 ? volcrypt::ConversionKind::kReencrypt
                                     : volcrypt::ConversionKind::kEncrypt;
    r.target = options->path != nullptr
                   ? volcrypt::VolumeLocation::Path(options->path)
                   : volcrypt::VolumeLocation::Rbd(Str(options->pool), Str(options->image));
    absl::StatusOr<volcrypt::LuksFormat> format =
        volcrypt::ParseLuksFormat(Str(options->format, "luks1"));
    if (!format.ok()) return FromStatus(format.status(), errmsg);
    r.encryption.format = *format;
    absl::StatusOr<volcrypt::EncryptionEngine> engine =
        volcrypt::ParseEncryptionEngine(Str(options->engine, "qemu"));
    if (!engine.ok()) return FromStatus(engine.status(), errmsg);
    r.encryption.engine = *engine;
    if (options->key_bits != 0) r.encryption.key_bits = options->key_bits;
    if (options->sector_size != 0) r.encryption.sector_size = options->sector_size;
    r.keep_source = options->keep_source != 0;
    r.bandwidth = options->bandwidth;
    if (options->on_progress != nullptr) {
      r.progress = [options](uint64_t done, uint64_t total) {
        options->on_progress(options->context, done, total);
      };
    }
    absl::StatusOr<volcrypt::VolumeRecord> v = service->rep->ConvertVolume(r);
    if (!v.ok()) return FromStatus(v.status(), errmsg);
    if (json == nullptr) return 0;
    return ReturnString(volcrypt::VolumeToJson(*v), json, errmsg);
  });
}

}  // extern "C"
