// SqlConnection over the SQLite C API.
#include <fcntl.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/store/sql_connection.h"
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

// "$3" -> "?3": the store writes PostgreSQL's placeholders; SQLite's
// numbered form means the same.
std::string NumberedPlaceholders(const std::string& sql) {
  std::string out = sql;
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '$' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '?';
  }
  return out;
}

class Statement {
 public:
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(s_); }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

class SqliteConnection final : public SqlConnection {
 public:
  SqliteConnection(sqlite3* db, std::string path)
      : db_(db), path_(std::move(path)) {}
  ~SqliteConnection() override {
    TruncateLargeWal();
    sqlite3_close(db_);
  }

  // The last connection to close checkpoints and truncates the WAL (see
  // OpenSqliteConnection). While other connections stay open (a daemon, a
  // fleet of CLI processes), none of them is the last, and every new
  // process's first connection reads the whole WAL to rebuild its index;
  // SQLite's automatic checkpoint never rewinds a WAL that is never idle:
  // it grew to 4 MiB, read twice by every `volume create` (issue #16). So
  // a writer closing on a WAL of 256 KiB or more also checkpoints and
  // truncates it. It does not wait: with a reader or writer in the way, a
  // later close does it.
  void TruncateLargeWal() {
    constexpr off_t kWalLimit = 256 << 10;
    if (sqlite3_db_readonly(db_, "main") != 0) return;
    struct stat st;
    if (stat((path_ + "-wal").c_str(), &st) != 0 || st.st_size < kWalLimit) return;
    sqlite3_busy_timeout(db_, 0);
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }
  using SqlConnection::Run;

  absl::StatusOr<SqlRows> Run(const std::string& sql,
                              const std::vector<SqlParam>& params) override {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, NumberedPlaceholders(sql).c_str(), -1,
                                &raw, nullptr);
    if (rc != SQLITE_OK) return Error(rc, sql);
    Statement stmt(raw);
    for (size_t i = 0; i < params.size(); ++i) {
      const int pos = static_cast<int>(i) + 1;
      if (const std::string* text = absl::get_if<std::string>(&params[i])) {
        sqlite3_bind_text(raw, pos, text->data(), static_cast<int>(text->size()),
                          SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_int64(raw, pos, absl::get<int64_t>(params[i]));
      }
    }
    SqlRows out;
    const int columns = sqlite3_column_count(raw);
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      std::vector<std::string> row(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        const unsigned char* t = sqlite3_column_text(raw, c);
        if (t) {
          row[static_cast<size_t>(c)].assign(
              reinterpret_cast<const char*>(t),
              static_cast<size_t>(sqlite3_column_bytes(raw, c)));
        }
      }
      out.rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return Error(rc, sql);
    out.changes = sqlite3_changes(db_);
    return out;
  }

  absl::Status RunScript(const std::string& sql) override {
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? absl::OkStatus() : Error(rc, sql);
  }

  const char* BeginStatement() const override { return "BEGIN IMMEDIATE"; }

  absl::StatusOr<int> SchemaVersion() override {
    absl::StatusOr<SqlRows> r = Run("PRAGMA user_version");
    if (!r.ok()) return r.status();
    return r->empty() ? 0 : static_cast<int>(r->Int(0, 0));
  }

  absl::Status SetSchemaVersion(int version) override {
    return Run(absl::StrCat("PRAGMA user_version=", version)).status();
  }

  absl::StatusOr<bool> HoldsForeignTables() override {
    absl::StatusOr<SqlRows> r = Run(
        "SELECT COUNT(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\'");
    if (!r.ok()) return r.status();
    return r->Int(0, 0) > 0;
  }

 private:
  absl::Status Error(int rc, const std::string& what) const {
    return SqliteStatus(rc, absl::StrCat(path_, ": SQLite: ", sqlite3_errmsg(db_),
                                         " (", what, ")"));
  }

  sqlite3* db_;
  std::string path_;
};

// Switching a new database to WAL takes its exclusive lock. When several
// processes make a fresh state directory at once, two of them can both hold
// the shared lock and both want to upgrade; SQLite then answers BUSY at once
// rather than calling the busy handler (waiting would deadlock), and the
// loser's command failed with "database is locked". So the switch is retried
// here, within the connection's busy timeout. Once the header says WAL the
// switch is a no-op that takes no exclusive lock.
absl::Status SwitchToWal(SqlConnection& conn, int busy_timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  std::minstd_rand jitter(static_cast<unsigned>(getpid()));
  for (;;) {
    absl::Status s = conn.RunScript("PRAGMA journal_mode=WAL");
    if (s.ok() || !absl::IsUnavailable(s) || std::chrono::steady_clock::now() >= deadline) {
      return s;
    }
    // 1-8 ms, different per process, so the racers do not meet again.
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + jitter() % 8));
  }
}

}  // namespace

// True if the database at `path` has tables but no volcrypt schema version.
absl::StatusOr<bool> IsForeignDatabase(const std::string& path, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = absl::StrCat(path, ": cannot open volume database: ",
                                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return SqliteStatus(rc, msg);
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  SqliteConnection probe(db, path);
  // Tables first, then the version: each read is its own snapshot, and a
  // volcrypt commits its tables and its version together, so tables seen
  // here mean the version is visible to the next read. The other order
  // would call a database another process was just creating foreign.
  absl::StatusOr<bool> tables = probe.HoldsForeignTables();
  if (!tables.ok() || !*tables) return tables;
  absl::StatusOr<int> version = probe.SchemaVersion();
  if (!version.ok()) return version.status();
  return *version == 0;
}

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenSqliteConnection(
    const std::string& path, bool read_only, int busy_timeout_ms) {
  // Private from the start: SQLite would create it 0644 (less the umask).
  // Only a file made here is opened and closed here: closing any descriptor
  // of a file drops every POSIX lock this process holds on it, including
  // those of other connections to it in this process, and another process
  // could then checkpoint and remove the WAL under them. A read-only open
  // of a missing file fails in SQLite (NotFound), creating nothing.
  bool created_here = false;
  if (!read_only) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0600);
    if (fd >= 0) {
      created_here = true;
      close(fd);
    } else if (errno != EEXIST) {
      const int err = errno;
      return StatusFromErrno(err, absl::StrCat(path, ": cannot open volume database: ",
                                               strerror(err)));
    }
  }
  // Switching the journal to WAL would already change a foreign database,
  // so one with tables of its own and no volcrypt version is refused first,
  // through a read-only connection of its own that is closed again (a file
  // made just now holds nothing, and the many processes that may be making
  // it at once take no lock for it).
  if (!read_only && !created_here) {
    absl::StatusOr<bool> foreign = IsForeignDatabase(path, busy_timeout_ms);
    if (!foreign.ok()) return foreign.status();
    if (*foreign) return absl::FailedPreconditionError(kForeignDatabase);
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      (read_only ? SQLITE_OPEN_READONLY
                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
          SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = absl::StrCat(path, ": cannot open volume database: ",
                                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return SqliteStatus(rc, msg);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // The WAL file stays between processes (PERSIST_WAL: the next process
  // reuses it instead of creating it and syncing the directory), but the
  // last connection to close checkpoints it into volumes.db and truncates
  // it to zero (journal_size_limit=0 below). So once no process runs,
  // volumes.db alone holds every commit: a `cp` of it is a whole backup,
  // and a restored copy never meets stale WAL frames that SQLite would
  // replay over it. (Skipping that checkpoint saved three syncs per command
  // and made a copy of volumes.db silently miss recent volumes.)
  if (!read_only) {
    int persist = 1;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  }
  auto conn = std::make_unique<SqliteConnection>(db, path);
  // Setting the journal mode writes the header: a read-only connection
  // reads the database in the mode its writers chose (WAL).
  if (!read_only) {
    absl::Status s = SwitchToWal(*conn, busy_timeout_ms);
    if (!s.ok()) return s;
  }
  // synchronous=FULL: the WAL is synced at every commit, so a record the
  // caller was told is committed survives a power cut (NORMAL, in WAL mode,
  // may lose the last commits). The flows rely on it: a create's record is
  // durable before its key and header are made, so Reconcile finds them.
  for (const char* pragma : {"PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
                             "PRAGMA journal_size_limit=0"}) {
    absl::Status s = conn->RunScript(pragma);
    if (!s.ok()) return s;
  }
  return std::unique_ptr<SqlConnection>(std::move(conn));
}

}  // namespace volcrypt
