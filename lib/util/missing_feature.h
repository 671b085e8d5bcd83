// The error of an entry point whose backend this build left out (a meson
// feature option turned off or not found): Unimplemented, errno ENOTSUP (so
// the C ABI returns -ENOTSUP), naming the backend and the option that brings
// it back, e.g.
//   "connect to Ceph: volcrypt was built without Ceph RBD (librbd); rebuild
//    with meson option -Drbd=enabled"
#ifndef VOLCRYPT_LIB_UTIL_MISSING_FEATURE_H_
#define VOLCRYPT_LIB_UTIL_MISSING_FEATURE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace volcrypt {

absl::Status MissingFeature(absl::string_view what, absl::string_view backend,
                            absl::string_view option);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_UTIL_MISSING_FEATURE_H_
