// Attacher::Connect in a build without libvirt (meson option libvirt): there
// is no libvirt implementation; an embedder's own Attacher still works.
#include "lib/util/missing_feature.h"
#include "volcrypt/attacher.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<Attacher>> Attacher::Connect(const std::string& uri) {
  (void)uri;
  return MissingFeature("connect to libvirt", "libvirt", "libvirt");
}

}  // namespace volcrypt
