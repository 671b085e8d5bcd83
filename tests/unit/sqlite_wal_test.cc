// The SQLite connection keeps its WAL file between processes (issue #16:
// no create and directory sync per command), but the last one to close
// checkpoints it and truncates it, so that volumes.db alone, as a `cp`
// backup takes it, holds every commit.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>

#include "lib/store/sql_connection.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using testing::TempDir;

off_t SizeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

TEST(SqliteWalTest, ClosingCheckpointsIntoTheDatabaseFileAndKeepsAnEmptyWal) {
  TempDir tmp;
  const std::string db = tmp.File("volumes.db");
  {
    absl::StatusOr<std::unique_ptr<SqlConnection>> c = OpenSqliteConnection(db, false, 1000);
    ASSERT_TRUE(c.ok()) << c.status();
    // A volcrypt database (a schema version), not a foreign one.
    ASSERT_TRUE((*c)->RunScript("CREATE TABLE t (v TEXT); PRAGMA user_version=1").ok());
    ASSERT_TRUE((*c)->Run("INSERT INTO t VALUES ($1)", {std::string("first")}).ok());
    EXPECT_GT(SizeOf(db + "-wal"), 0) << "a commit goes to the WAL first";
  }
  // Checkpointed and truncated on close; the file itself stays.
  EXPECT_EQ(SizeOf(db + "-wal"), 0);
  // A copy of volumes.db alone, as a backup would take it, has the commit.
  const std::string copy = tmp.File("copy.db");
  ASSERT_EQ(testing::RunCommand({"cp", db, copy}).exit_code, 0);
  {
    absl::StatusOr<std::unique_ptr<SqlConnection>> r = OpenSqliteConnection(copy, true, 1000);
    ASSERT_TRUE(r.ok()) << r.status();
    absl::StatusOr<SqlRows> rows = (*r)->Run("SELECT v FROM t");
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->rows.size(), 1u);
    EXPECT_EQ(rows->Text(0, 0), "first");
  }
  // Restoring an older copy over the database: no stale frames replay.
  {
    absl::StatusOr<std::unique_ptr<SqlConnection>> c = OpenSqliteConnection(db, false, 1000);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->Run("INSERT INTO t VALUES ($1)", {std::string("second")}).ok());
  }
  ASSERT_EQ(testing::RunCommand({"cp", copy, db}).exit_code, 0);
  {
    absl::StatusOr<std::unique_ptr<SqlConnection>> r = OpenSqliteConnection(db, true, 1000);
    ASSERT_TRUE(r.ok()) << r.status();
    absl::StatusOr<SqlRows> rows = (*r)->Run("SELECT count(*) FROM t");
    ASSERT_TRUE(rows.ok()) << rows.status();
    EXPECT_EQ(rows->Int(0, 0), 1) << "the restored copy is what it was";
  }
}

// Every process's first connection reads the whole WAL to rebuild its index:
// the WAL must not grow to SQLite's default 1000 pages (4 MiB) between
// checkpoints. 300 commits from short connections, as 300 CLI commands
// would make, leave a WAL under 1 MiB (the default would leave ~2.4 MiB).
TEST(SqliteWalTest, ManyShortWritersKeepTheWalSmall) {
  TempDir tmp;
  const std::string db = tmp.File("volumes.db");
  {
    absl::StatusOr<std::unique_ptr<SqlConnection>> c = OpenSqliteConnection(db, false, 1000);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->RunScript("CREATE TABLE t (v TEXT); PRAGMA user_version=1").ok());
  }
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<std::unique_ptr<SqlConnection>> c = OpenSqliteConnection(db, false, 1000);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->Run("INSERT INTO t VALUES ($1)", {std::string(600, 'x')}).ok());
  }
  EXPECT_LT(SizeOf(db + "-wal"), 1 << 20);
  absl::StatusOr<std::unique_ptr<SqlConnection>> r = OpenSqliteConnection(db, true, 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<SqlRows> rows = (*r)->Run("SELECT count(*) FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->Int(0, 0), 300);
}

// Many first commands on a fresh state directory switch volumes.db to WAL
// at once. A connection that has read the still-rollback header and then
// finds another one holding the write lock gets BUSY from SQLite at once,
// without its busy handler (waiting could deadlock): the open must wait the
// writer out, not fail with "database is locked" (seen in CI as a failed
// CliTest.ParallelFirstCreatesInAFreshStateDirAllSucceed). Here the other
// process is a plain connection holding BEGIN IMMEDIATE on a rollback
// database for 300 ms.
TEST(SqliteWalTest, SwitchingANewDatabaseToWalWaitsOutAWriterInsteadOfFailing) {
  TempDir tmp;
  const std::string db = tmp.File("volumes.db");
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "PRAGMA user_version=1", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "BEGIN IMMEDIATE; CREATE TABLE t (v TEXT)", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  std::thread commit([writer] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(writer, "COMMIT", nullptr, nullptr, nullptr);
  });
  absl::StatusOr<std::unique_ptr<SqlConnection>> c = OpenSqliteConnection(db, false, 5000);
  commit.join();
  sqlite3_close(writer);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<SqlRows> mode = (*c)->Run("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok()) << mode.status();
  EXPECT_EQ(mode->Text(0, 0), "wal");
  absl::StatusOr<SqlRows> tables = (*c)->Run("SELECT count(*) FROM t");
  EXPECT_TRUE(tables.ok()) << "the writer's commit is there: " << tables.status();
}

// The retry is bounded by the busy timeout: a writer that never lets go
// still gives the caller the one-line "database is locked" error.
TEST(SqliteWalTest, SwitchingToWalGivesUpAfterTheBusyTimeout) {
  TempDir tmp;
  const std::string db = tmp.File("volumes.db");
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "PRAGMA user_version=1; BEGIN IMMEDIATE; CREATE TABLE t (v)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  absl::StatusOr<std::unique_ptr<SqlConnection>> c = OpenSqliteConnection(db, false, 200);
  sqlite3_close(writer);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
  EXPECT_NE(std::string(c.status().message()).find("database is locked"), std::string::npos)
      << c.status();
}

}  // namespace
}  // namespace volcrypt
