// The entry table of volcrypt-rbd.so (lib/backends/rbd_backend.cc and
// cephx_key.cc, librbd and librados).
#include "lib/modules/module_loader.h"

namespace volcrypt {
namespace {
const RbdModule kRbdModule = {&RbdBackend::Connect, &ReadCephxKey};
}  // namespace
}  // namespace volcrypt

VOLCRYPT_DEFINE_MODULE(rbd, volcrypt::kRbdModule)
