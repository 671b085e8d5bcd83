// The C calls for Ceph's side of libvirt: the options every rbd call reads,
// and the libvirt secret of usage 'ceph' that rbd disks' <auth> names.
#include <cstring>

#include "capi/c_handles.h"
#include "capi/c_status.h"
#include "capi/c_struct.h"
#include "capi/volcrypt.h"
#include "volcrypt/attacher.h"
#include "volcrypt/rbd_backend.h"

using volcrypt::capi::Fail;
using volcrypt::capi::FromStatus;
using volcrypt::capi::Guard;
using volcrypt::capi::NullArgument;
using volcrypt::capi::ReadStruct;
using volcrypt::capi::Str;

namespace volcrypt {
namespace capi {

int ReadRbdOptions(const volcrypt_rbd_options_t* options, RbdBackendOptions* out,
                   char** errmsg) {
  volcrypt_rbd_options_t copy;
  if (int r = ReadStruct(options,
                         VOLCRYPT_FIRST_SIZE(volcrypt_rbd_options_t, libvirt_auth_secret_uuid),
                         "volcrypt_rbd_options_t", &copy, errmsg)) {
    return r;
  }
  out->ceph_conf = Str(copy.ceph_conf);
  out->client_id = Str(copy.client_id, "admin");
  out->keyring = Str(copy.keyring);
  if (copy.timeout_seconds > 0) out->timeout_seconds = copy.timeout_seconds;
  out->libvirt_auth_secret_uuid = Str(copy.libvirt_auth_secret_uuid);
  return 0;
}

}  // namespace capi
}  // namespace volcrypt

extern "C" {

int volcrypt_ceph_secret_define(volcrypt_attacher_t* attacher,
                                const volcrypt_rbd_options_t* options, char* uuid,
                                size_t uuid_len, char** errmsg) {
  return Guard(errmsg, [&] {
    if (attacher == nullptr || options == nullptr || uuid == nullptr) {
      return NullArgument("attacher, options and uuid", errmsg);
    }
    volcrypt::RbdBackendOptions o;
    if (int r = volcrypt::capi::ReadRbdOptions(options, &o, errmsg)) return r;
    if (uuid_len < VOLCRYPT_UUID_SIZE) {
      return Fail(ERANGE, "uuid buffer too small: 37 bytes needed", errmsg);
    }
    absl::StatusOr<volcrypt::SecretBytes> key = volcrypt::ReadCephxKey(o);
    if (!key.ok()) return FromStatus(key.status(), errmsg);
    absl::StatusOr<std::string> defined =
        attacher->rep->DefineCephSecret(o.libvirt_auth_secret_uuid, o.client_id, *key);
    if (!defined.ok()) return FromStatus(defined.status(), errmsg);
    std::memcpy(uuid, defined->c_str(), defined->size() + 1);
    return 0;
  });
}

int volcrypt_ceph_secret_check(volcrypt_attacher_t* attacher,
                               const volcrypt_rbd_options_t* options, char** errmsg) {
  return Guard(errmsg, [&] {
    if (attacher == nullptr || options == nullptr) {
      return NullArgument("attacher and options", errmsg);
    }
    volcrypt::RbdBackendOptions o;
    if (int r = volcrypt::capi::ReadRbdOptions(options, &o, errmsg)) return r;
    if (o.libvirt_auth_secret_uuid.empty()) {
      return Fail(EINVAL, "options->libvirt_auth_secret_uuid must name the secret", errmsg);
    }
    // Without a readable keyring the rest is still checked.
    absl::StatusOr<volcrypt::SecretBytes> key = volcrypt::ReadCephxKey(o);
    if (!key.ok() && !absl::IsNotFound(key.status())) return FromStatus(key.status(), errmsg);
    return FromStatus(attacher->rep->CheckCephSecret(o.libvirt_auth_secret_uuid,
                                                     key.ok() ? &*key : nullptr),
                      errmsg);
  });
}

}  // extern "C"
