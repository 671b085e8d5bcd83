#include "lib/store/sqlite_db.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

absl::Status SqliteStatus(int rc, const std::string& message) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrnoError(absl::StatusCode::kUnavailable, EBUSY, message);
    case SQLITE_CONSTRAINT:
      return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST, message);
    case SQLITE_CANTOPEN:
      return ErrnoError(absl::StatusCode::kNotFound, ENOENT, message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return ErrnoError(absl::StatusCode::kPermissionDenied, EACCES, message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrnoError(absl::StatusCode::kDataLoss, EIO, message);
    case SQLITE_FULL:
      return ErrnoError(absl::StatusCode::kResourceExhausted, ENOSPC, message);
    default:
      return ErrnoError(absl::StatusCode::kInternal, EIO, message);
  }
}

}  // namespace

SqliteStatement& SqliteStatement::Bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

SqliteStatement& SqliteStatement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

absl::StatusOr<bool> SqliteStatement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, absl::StrCat("SQLite: ", sqlite3_errmsg(db_), " in: ",
                                       sqlite3_sql(stmt_)));
}

absl::Status SqliteStatement::Run() {
  absl::StatusOr<bool> row = Step();
  while (row.ok() && *row) row = Step();
  return row.status();
}

std::string SqliteStatement::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

int64_t SqliteStatement::Int(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

bool SqliteStatement::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  // Private from the start: SQLite would create it 0644 (less the umask).
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    return StatusFromErrno(err, absl::StrCat(path, ": cannot open volume database: ",
                                             strerror(err)));
  }
  close(fd);
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
          SQLITE_OPEN_NOFOLLOW,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = absl::StrCat(path, ": cannot open volume database: ",
                                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return SqliteStatus(rc, msg);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 10000);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db, path));
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

absl::StatusOr<SqliteStatement> SqliteDb::Prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare: " + sql);
  return SqliteStatement(db_, stmt);
}

absl::Status SqliteDb::Exec(const std::string& sql) {
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  return absl::OkStatus();
}

absl::Status SqliteDb::Error(int rc, const std::string& what) const {
  return SqliteStatus(rc, absl::StrCat(path_, ": SQLite: ", sqlite3_errmsg(db_),
                                       " (", what, ")"));
}

absl::StatusOr<std::unique_ptr<SqliteTransaction>> SqliteTransaction::Begin(
    SqliteDb& db) {
  absl::Status s = db.Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  return std::unique_ptr<SqliteTransaction>(new SqliteTransaction(db));
}

SqliteTransaction::~SqliteTransaction() {
  if (!done_) (void)db_.Exec("ROLLBACK");
}

absl::Status SqliteTransaction::Commit() {
  absl::Status s = db_.Exec("COMMIT");
  if (s.ok()) done_ = true;
  return s;
}

}  // namespace volcrypt
