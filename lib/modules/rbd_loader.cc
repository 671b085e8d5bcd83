// RbdBackend::Connect in libvolcrypt: the Ceph code and librbd live in the
// module volcrypt-rbd.so, loaded here on first use (module_loader.h).
#include "lib/modules/module_loader.h"
#include "lib/util/status_macros.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<RbdBackend>> RbdBackend::Connect(
    const RbdBackendOptions& options) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table, LoadModule("rbd", "connect to Ceph"));
  return static_cast<const RbdModule*>(table)->connect(options);
}

absl::StatusOr<SecretBytes> ReadCephxKey(const RbdBackendOptions& options) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table, LoadModule("rbd", "read the cephx key"));
  return static_cast<const RbdModule*>(table)->read_cephx_key(options);
}

}  // namespace volcrypt
