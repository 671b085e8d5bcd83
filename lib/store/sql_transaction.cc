#include "absl/strings/numbers.h"
#include "lib/store/sql_connection.h"

namespace volcrypt {

int64_t SqlRows::Int(size_t row, size_t col) const {
  int64_t v = 0;
  return absl::SimpleAtoi(rows[row][col], &v) ? v : 0;
}

absl::StatusOr<std::unique_ptr<SqlTransaction>> SqlTransaction::Begin(
    SqlConnection& db) {
  absl::StatusOr<SqlRows> r = db.Run(db.BeginStatement());
  if (!r.ok()) return r.status();
  return std::unique_ptr<SqlTransaction>(new SqlTransaction(db));
}

SqlTransaction::~SqlTransaction() {
  if (!done_) (void)db_.Run("ROLLBACK");
}

absl::Status SqlTransaction::Commit() {
  absl::StatusOr<SqlRows> r = db_.Run("COMMIT");
  if (r.ok()) done_ = true;
  return r.status();
}

}  // namespace volcrypt
