// The entry table of volcrypt-libvirt.so (lib/attach/attacher.cc, libvirt).
#include "lib/modules/module_loader.h"

namespace volcrypt {
namespace {
const LibvirtModule kLibvirtModule = {&Attacher::Connect};
}  // namespace
}  // namespace volcrypt

VOLCRYPT_DEFINE_MODULE(libvirt, volcrypt::kLibvirtModule)
