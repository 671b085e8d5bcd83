// The entry table of volcrypt-libvirt.so (lib/attach/attacher.cc and
// migration.cc, libvirt).
#include "lib/modules/module_loader.h"

namespace volcrypt {
namespace {
const LibvirtModule kLibvirtModule = {&Attacher::Connect, &MigrateDomainLive,
                                      &LibvirtHostName};
}  // namespace
}  // namespace volcrypt

VOLCRYPT_DEFINE_MODULE(libvirt, volcrypt::kLibvirtModule)
