// One connection to an SQL database, as the volume store needs it: statements
// with $1..$N parameters, whole results, transactions, and the few places
// where SQLite and PostgreSQL differ. The store's SQL is written once over it.
#ifndef VOLCRYPT_LIB_STORE_SQL_CONNECTION_H_
#define VOLCRYPT_LIB_STORE_SQL_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/variant.h"

namespace volcrypt {

// Why a database with tables but no volcrypt schema version is refused.
inline constexpr char kForeignDatabase[] =
    "not a volcrypt volume database: it holds tables but no volcrypt schema "
    "version; volcrypt adds no tables to it";

using SqlParam = absl::variant<std::string, int64_t>;

// The rows a statement returned, every column as text (NULL as ""), and how
// many rows it changed.
struct SqlRows {
  std::vector<std::vector<std::string>> rows;
  int64_t changes = 0;

  bool empty() const { return rows.empty(); }
  const std::string& Text(size_t row, size_t col) const { return rows[row][col]; }
  int64_t Int(size_t row, size_t col) const;
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;

  // Runs one statement. A unique or foreign-key violation is AlreadyExists;
  // a lock not granted in time is Unavailable; a lost server is Unavailable.
  virtual absl::StatusOr<SqlRows> Run(const std::string& sql,
                                      const std::vector<SqlParam>& params) = 0;
  absl::StatusOr<SqlRows> Run(const std::string& sql) { return Run(sql, {}); }

  // Runs several ;-separated statements without parameters (schema changes).
  virtual absl::Status RunScript(const std::string& sql) = 0;

  // The statement that starts a write transaction: SQLite takes its database
  // write lock at BEGIN IMMEDIATE, so two writers never deadlock later.
  virtual const char* BeginStatement() const = 0;

  // The schema version (0 for a new database), read and written inside a
  // transaction. PostgreSQL also serializes concurrent schema upgrades here
  // (an advisory lock). On a read-only connection it only reads, outside a
  // transaction.
  virtual absl::StatusOr<int> SchemaVersion() = 0;
  virtual absl::Status SetSchemaVersion(int version) = 0;

  // For a database without a schema version: whether it already holds
  // tables that are not volcrypt's to add to. In SQLite, any table; in
  // PostgreSQL, which other programs may share, a table in the current
  // schema with one of volcrypt's table names.
  virtual absl::StatusOr<bool> HoldsForeignTables() = 0;
};

// A write transaction, rolled back unless Commit() succeeded.
class SqlTransaction {
 public:
  static absl::StatusOr<std::unique_ptr<SqlTransaction>> Begin(SqlConnection& db);
  SqlTransaction(const SqlTransaction&) = delete;
  SqlTransaction& operator=(const SqlTransaction&) = delete;
  ~SqlTransaction();
  absl::Status Commit();

 private:
  explicit SqlTransaction(SqlConnection& db) : db_(db) {}
  SqlConnection& db_;
  bool done_ = false;
};

// Opens an SQLite database file (created 0600 if missing, unless
// `read_only`: then NotFound): extended result codes, `busy_timeout_ms` for
// writers in other processes. Read-only: SQLITE_OPEN_READONLY, and the
// journal mode is left as it is.
absl::StatusOr<std::unique_ptr<SqlConnection>> OpenSqliteConnection(
    const std::string& path, bool read_only, int busy_timeout_ms);

// Connects to PostgreSQL with a libpq connection string; row locks wait at
// most `lock_timeout_ms`. Read-only: every transaction is READ ONLY.
absl::StatusOr<std::unique_ptr<SqlConnection>> OpenPostgresConnection(
    const std::string& conninfo, int lock_timeout_ms, bool read_only);

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_STORE_SQL_CONNECTION_H_
