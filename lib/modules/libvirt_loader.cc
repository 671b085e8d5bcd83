// Attacher::Connect in libvolcrypt: the libvirt implementation and libvirt
// itself live in the module volcrypt-libvirt.so, loaded on first use.
#include "lib/modules/module_loader.h"
#include "lib/util/status_macros.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<Attacher>> Attacher::Connect(const std::string& uri) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table, LoadModule("libvirt", "connect to libvirt"));
  return static_cast<const LibvirtModule*>(table)->connect(uri);
}

}  // namespace volcrypt
