// Attacher::Connect in a build without libvirt (meson option libvirt): there
// is no libvirt implementation; an embedder's own Attacher still works.
#include "lib/util/missing_feature.h"
#include "lib/attach/migration.h"
#include "volcrypt/attacher.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<Attacher>> Attacher::Connect(const std::string& uri) {
  (void)uri;
  return MissingFeature("connect to libvirt", "libvirt", "libvirt");
}

absl::Status MigrateDomainLive(const LiveMigrationRequest& request) {
  return MissingFeature("migrate domain " + request.domain, "libvirt", "libvirt");
}

absl::StatusOr<std::string> LibvirtHostName(const std::string&) {
  return MissingFeature("ask libvirt its host name", "libvirt", "libvirt");
}

}  // namespace volcrypt
