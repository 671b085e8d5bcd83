// RbdBackend in a build without Ceph (meson option rbd): every connection
// fails, so no RBD volume can be made or opened. Mapped volumes are unaffected.
#include "lib/util/missing_feature.h"
#include "volcrypt/rbd_backend.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<RbdBackend>> RbdBackend::Connect(
    const RbdBackendOptions&) {
  return MissingFeature("connect to Ceph", "Ceph RBD (librbd)", "rbd");
}

absl::StatusOr<SecretBytes> ReadCephxKey(const RbdBackendOptions&) {
  return MissingFeature("read the cephx key", "Ceph RBD (librbd)", "rbd");
}

}  // namespace volcrypt
