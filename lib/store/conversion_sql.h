// The conversions table (schema 10) over an SqlConnection: the statements
// behind VolumeStore's Begin/Get/Update/Swap/EndConversion. Each multi-row
// change (the volume's status and the row; the swap of both sides) is one
// transaction, taken under the store's connection mutex.
#ifndef VOLCRYPT_LIB_STORE_CONVERSION_SQL_H_
#define VOLCRYPT_LIB_STORE_CONVERSION_SQL_H_

#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/store/sql_connection.h"
#include "volcrypt/volume_store.h"

namespace volcrypt {

// The migration that creates the table (kMigrations[9]).
extern const char kConversionsMigration[];

absl::Status SqlBeginConversion(SqlConnection& db, std::recursive_mutex& mu,
                                const ConversionRecord& c, VolumeStatus expected);
absl::StatusOr<ConversionRecord> SqlGetConversion(SqlConnection& db,
                                                  std::recursive_mutex& mu,
                                                  const std::string& volume_id);
absl::Status SqlUpdateConversion(SqlConnection& db, std::recursive_mutex& mu,
                                 const ConversionRecord& c);
absl::Status SqlSwapConversion(SqlConnection& db, std::recursive_mutex& mu,
                               const std::string& volume_id);
absl::Status SqlEndConversion(SqlConnection& db, std::recursive_mutex& mu,
                              const std::string& volume_id, VolumeStatus to);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_STORE_CONVERSION_SQL_H_
