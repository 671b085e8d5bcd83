// The entry table of volcrypt-barbican.so (lib/keys/barbican_key_manager.cc,
// lib/keys/http_client.cc, libcurl).
#include "lib/keys/http_client.h"
#include "lib/modules/module_loader.h"

namespace volcrypt {
namespace {
const BarbicanModule kBarbicanModule = {&NewBarbicanKeyManager, &PerformHttp};
}  // namespace
}  // namespace volcrypt

VOLCRYPT_DEFINE_MODULE(barbican, volcrypt::kBarbicanModule)
