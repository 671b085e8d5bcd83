// Attacher::Connect in libvolcrypt: the libvirt implementation and libvirt
// itself live in the module volcrypt-libvirt.so, loaded on first use.
#include "lib/modules/module_loader.h"
#include "lib/util/status_macros.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<Attacher>> Attacher::Connect(const std::string& uri) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table, LoadModule("libvirt", "connect to libvirt"));
  return static_cast<const LibvirtModule*>(table)->connect(uri);
}

absl::Status MigrateDomainLive(const LiveMigrationRequest& request) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table,
                            LoadModule("libvirt", "migrate domain " + request.domain));
  return static_cast<const LibvirtModule*>(table)->migrate_domain_live(request);
}

absl::StatusOr<std::string> LibvirtHostName(const std::string& uri) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table, LoadModule("libvirt", "host name of " + uri));
  return static_cast<const LibvirtModule*>(table)->host_name(uri);
}

}  // namespace volcrypt
