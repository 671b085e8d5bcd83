// OpenPostgresConnection in a build without libpq (meson option postgres):
// SQLite stores are unaffected.
#include "lib/store/sql_connection.h"
#include "lib/util/missing_feature.h"

namespace volcrypt {

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenPostgresConnection(
    const std::string&, int, bool) {
  return MissingFeature("open a PostgreSQL store", "PostgreSQL (libpq)", "postgres");
}

}  // namespace volcrypt
