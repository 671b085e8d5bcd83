// The entry table of volcrypt-rbd.so (lib/backends/rbd_backend.cc, librbd).
#include "lib/modules/module_loader.h"

namespace volcrypt {
namespace {
const RbdModule kRbdModule = {&RbdBackend::Connect};
}  // namespace
}  // namespace volcrypt

VOLCRYPT_DEFINE_MODULE(rbd, volcrypt::kRbdModule)
