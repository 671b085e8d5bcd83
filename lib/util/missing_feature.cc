#include "lib/util/missing_feature.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "volcrypt/errors.h"

namespace volcrypt {

absl::Status MissingFeature(absl::string_view what, absl::string_view backend,
                            absl::string_view option) {
  return ErrnoError(absl::StatusCode::kUnimplemented, ENOTSUP,
                    absl::StrCat(what, ": volcrypt was built without ", backend,
                                 "; rebuild with meson option -D", option, "=enabled"));
}

}  // namespace volcrypt
