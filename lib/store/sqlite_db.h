// A thin RAII layer over the SQLite C API: a connection, prepared statements
// with typed binds, and statuses that name the failing statement.
#ifndef VOLCRYPT_LIB_STORE_SQLITE_DB_H_
#define VOLCRYPT_LIB_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace volcrypt {

class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStatement(SqliteStatement&& other) noexcept
      : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() { sqlite3_finalize(stmt_); }

  // Binds by 1-based position; returns *this for chaining.
  SqliteStatement& Bind(int i, const std::string& v);
  SqliteStatement& Bind(int i, int64_t v);
  SqliteStatement& BindNull(int i);

  // Advances: true with a row, false when done, or an error status.
  absl::StatusOr<bool> Step();
  // Runs to completion (for statements that return no rows).
  absl::Status Run();

  std::string Text(int col) const;
  int64_t Int(int col) const;
  bool IsNull(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDb {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  absl::StatusOr<SqliteStatement> Prepare(const std::string& sql);
  absl::Status Exec(const std::string& sql);
  // Rows changed by the last statement.
  int Changes() const { return sqlite3_changes(db_); }

  // Returns a status for SQLite result `rc` while doing `what`.
  absl::Status Error(int rc, const std::string& what) const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless Commit() succeeded.
class SqliteTransaction {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteTransaction>> Begin(SqliteDb& db);
  ~SqliteTransaction();
  absl::Status Commit();

 private:
  explicit SqliteTransaction(SqliteDb& db) : db_(db) {}
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace volcrypt

#endif  // VOLCRYPT_LIB_STORE_SQLITE_DB_H_
