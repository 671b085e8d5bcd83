// The entry table of volcrypt-postgres.so (lib/store/postgres_connection.cc,
// libpq).
#include "lib/modules/module_loader.h"

namespace volcrypt {
namespace {
const PostgresModule kPostgresModule = {&OpenPostgresConnection};
}  // namespace
}  // namespace volcrypt

VOLCRYPT_DEFINE_MODULE(postgres, volcrypt::kPostgresModule)
