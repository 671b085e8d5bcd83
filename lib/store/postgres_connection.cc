// SqlConnection over libpq. Parameters travel as text, typed by the server
// from their context; results come back as text.
#include <libpq-fe.h>

#include <cerrno>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "lib/store/sql_connection.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Maps a SQLSTATE to the store's error codes (see sql_connection.h).
absl::Status PostgresStatus(absl::string_view sqlstate, const std::string& msg) {
  if (sqlstate == "23505" || sqlstate == "23503") {  // unique, foreign key
    return ErrnoError(absl::StatusCode::kAlreadyExists, EEXIST, msg);
  }
  if (sqlstate == "55P03" || sqlstate == "57014") {  // lock timeout, cancel
    return ErrnoError(absl::StatusCode::kUnavailable, EBUSY, msg);
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {  // serialization, deadlock
    return ErrnoError(absl::StatusCode::kAborted, EAGAIN, msg);
  }
  if (absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "57P")) {
    return ErrnoError(absl::StatusCode::kUnavailable, ECONNRESET, msg);
  }
  if (sqlstate == "42501" || absl::StartsWith(sqlstate, "28")) {
    return ErrnoError(absl::StatusCode::kPermissionDenied, EACCES, msg);
  }
  if (absl::StartsWith(sqlstate, "53")) {
    return ErrnoError(absl::StatusCode::kResourceExhausted, ENOSPC, msg);
  }
  return ErrnoError(absl::StatusCode::kInternal, EIO, msg);
}

std::string ServerMessage(PGconn* conn) {
  return std::string(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
}

void IgnoreNotice(void*, const char*) {}

class PostgresConnection final : public SqlConnection {
 public:
  PostgresConnection(PGconn* conn, bool read_only)
      : conn_(conn), read_only_(read_only) {}
  ~PostgresConnection() override { PQfinish(conn_); }
  using SqlConnection::Run;

  absl::StatusOr<SqlRows> Run(const std::string& sql,
                              const std::vector<SqlParam>& params) override {
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (const std::string* s = absl::get_if<std::string>(&params[i])) {
        text[i] = *s;
      } else {
        text[i] = absl::StrCat(absl::get<int64_t>(params[i]));
      }
      values[i] = text[i].c_str();
    }
    Result r(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()),
                          nullptr, values.data(), nullptr, nullptr, 0));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return Error(r.get(), sql);
    }
    SqlRows out;
    const int rows = PQntuples(r.get());
    const int cols = PQnfields(r.get());
    out.rows.reserve(static_cast<size_t>(rows));
    for (int i = 0; i < rows; ++i) {
      std::vector<std::string> row(static_cast<size_t>(cols));
      for (int c = 0; c < cols; ++c) {
        row[static_cast<size_t>(c)].assign(
            PQgetvalue(r.get(), i, c),
            static_cast<size_t>(PQgetlength(r.get(), i, c)));
      }
      out.rows.push_back(std::move(row));
    }
    const char* changed = PQcmdTuples(r.get());
    out.changes = (changed && *changed) ? std::atoll(changed) : 0;
    return out;
  }

  absl::Status RunScript(const std::string& sql) override {
    Result r(PQexec(conn_, sql.c_str()));
    if (r && PQresultStatus(r.get()) == PGRES_COMMAND_OK) return absl::OkStatus();
    return Error(r.get(), sql);
  }

  const char* BeginStatement() const override { return "BEGIN"; }

  absl::StatusOr<int> SchemaVersion() override {
    if (read_only_) {
      absl::StatusOr<SqlRows> exists =
          Run("SELECT to_regclass('volcrypt_schema') IS NOT NULL");
      if (!exists.ok()) return exists.status();
      if (exists->Text(0, 0) != "t") return 0;
      absl::StatusOr<SqlRows> r = Run("SELECT version FROM volcrypt_schema");
      if (!r.ok()) return r.status();
      return r->empty() ? 0 : static_cast<int>(r->Int(0, 0));
    }
    // Hosts sharing one database may open it at the same moment: the first
    // upgrades, the others wait here and then find the new version.
    absl::Status s = RunScript(
        "SELECT pg_advisory_xact_lock(7640657916362994803);"
        "CREATE TABLE IF NOT EXISTS volcrypt_schema (version INTEGER NOT NULL);");
    if (!s.ok()) return s;
    absl::StatusOr<SqlRows> r = Run("SELECT version FROM volcrypt_schema");
    if (!r.ok()) return r.status();
    return r->empty() ? 0 : static_cast<int>(r->Int(0, 0));
  }

  absl::Status SetSchemaVersion(int version) override {
    absl::Status s = RunScript("DELETE FROM volcrypt_schema");
    if (!s.ok()) return s;
    return Run("INSERT INTO volcrypt_schema (version) VALUES ($1)",
               {static_cast<int64_t>(version)}).status();
  }

  absl::StatusOr<bool> HoldsForeignTables() override {
    absl::StatusOr<SqlRows> r = Run(
        "SELECT COUNT(*) FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name IN "
        "('volumes', 'snapshots', 'backups', 'attachments')");
    if (!r.ok()) return r.status();
    return r->Int(0, 0) > 0;
  }

 private:
  absl::Status Error(PGresult* r, const std::string& sql) const {
    if (PQstatus(conn_) == CONNECTION_BAD) {
      return ErrnoError(absl::StatusCode::kUnavailable, ECONNRESET,
                        absl::StrCat("PostgreSQL: connection lost: ",
                                     ServerMessage(conn_)));
    }
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    return PostgresStatus(state ? state : "",
                          absl::StrCat("PostgreSQL: ", ServerMessage(conn_),
                                       " (", sql, ")"));
  }

  PGconn* conn_;
  const bool read_only_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenPostgresConnection(
    const std::string& conninfo, int lock_timeout_ms, bool read_only) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) {
    return absl::ResourceExhaustedError("PostgreSQL: out of memory");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    std::string msg = absl::StrCat("PostgreSQL: cannot connect: ",
                                   ServerMessage(conn));
    PQfinish(conn);
    return ErrnoError(absl::StatusCode::kUnavailable, ECONNREFUSED, msg);
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  auto db = std::make_unique<PostgresConnection>(conn, read_only);
  absl::Status s = db->RunScript(
      absl::StrCat("SET lock_timeout = ", lock_timeout_ms,
                   "; SET client_min_messages = warning",
                   read_only ? "; SET default_transaction_read_only = on" : ""));
  if (!s.ok()) return s;
  return std::unique_ptr<SqlConnection>(std::move(db));
}

}  // namespace volcrypt
