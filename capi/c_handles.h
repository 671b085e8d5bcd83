// The C handles and the small conversions every C shim file shares.
// Private to capi/: the handles are opaque in volcrypt.h.
#ifndef VOLCRYPT_CAPI_C_HANDLES_H_
#define VOLCRYPT_CAPI_C_HANDLES_H_

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "capi/c_status.h"
#include "capi/volcrypt.h"
#include "volcrypt/attacher.h"
#include "volcrypt/key_manager.h"
#include "volcrypt/rbd_backend.h"
#include "volcrypt/secret_bytes.h"
#include "volcrypt/volume_service.h"
#include "volcrypt/volume_store.h"

struct volcrypt_keys_t { std::unique_ptr<volcrypt::KeyManager> rep; };
struct volcrypt_store_t { std::unique_ptr<volcrypt::VolumeStore> rep; };
struct volcrypt_backend_t {
  std::unique_ptr<volcrypt::BlockBackend> rep;
  volcrypt::RbdBackend* rbd = nullptr;  // rep, when it is an RBD backend
};
struct volcrypt_attacher_t { std::unique_ptr<volcrypt::Attacher> rep; };
struct volcrypt_service_t { std::unique_ptr<volcrypt::VolumeService> rep; };

namespace volcrypt {
namespace capi {


// Reads a caller's volcrypt_rbd_options_t (any struct_size from the first
// published one) into `out`; 0 or a negative errno (ceph_secret_calls.cc).
int ReadRbdOptions(const volcrypt_rbd_options_t* options, volcrypt::RbdBackendOptions* out,
                   char** errmsg);

inline std::string Str(const char* s, const char* fallback = "") {
  return s != nullptr ? s : fallback;
}

inline int NullArgument(const char* name, char** errmsg) {
  return Fail(EINVAL, std::string(name) + " must not be NULL", errmsg);
}

// Sets *out to a malloc'd copy of `s`.
inline int ReturnString(const std::string& s, char** out, char** errmsg) {
  char* copy = CopyString(s);
  if (copy == nullptr) return Fail(ENOMEM, "out of memory", errmsg);
  *out = copy;
  return 0;
}

// Copies secret bytes into a caller buffer with an in/out size.
inline int ReturnSecret(const volcrypt::SecretBytes& secret, unsigned char* buf,
                 size_t* len, char** errmsg) {
  const size_t capacity = *len;
  *len = secret.size();
  if (buf == nullptr || capacity < secret.size()) {
    return Fail(ERANGE, "buffer too small: " + std::to_string(secret.size()) +
                            " bytes needed", errmsg);
  }
  std::memcpy(buf, secret.data(), secret.size());
  return 0;
}

// Sets *out to a new handle holding `value` of a StatusOr<unique_ptr<T>>.
template <typename Handle, typename StatusOrPtr>
int ReturnHandle(StatusOrPtr&& made, Handle** out, char** errmsg) {
  if (!made.ok()) return FromStatus(made.status(), errmsg);
  *out = new Handle{std::move(*made)};
  return 0;
}

}  // namespace capi
}  // namespace volcrypt

#endif  // VOLCRYPT_CAPI_C_HANDLES_H_
