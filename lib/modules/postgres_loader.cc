// OpenPostgresConnection in libvolcrypt: the libpq connection lives in the
// module volcrypt-postgres.so, loaded on first use.
#include "lib/modules/module_loader.h"
#include "lib/util/status_macros.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenPostgresConnection(
    const std::string& conninfo, int lock_timeout_ms, bool read_only) {
  VOLCRYPT_ASSIGN_OR_RETURN(const void* table,
                            LoadModule("postgres", "open a PostgreSQL store"));
  return static_cast<const PostgresModule*>(table)->open(conninfo, lock_timeout_ms, read_only);
}

}  // namespace volcrypt
