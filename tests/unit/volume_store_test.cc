// SQLite's VolumeStore: the store contract (tests/store) on a file, and
// what only SQLite has (WAL, PRAGMA user_version, schema upgrades).
#include "volcrypt/volume_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "tests/store/store_under_test.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {

class SqliteStoreUnderTest : public StoreUnderTest {
 public:
  using StoreUnderTest::Open;
  absl::StatusOr<std::unique_ptr<VolumeStore>> Open(
      const VolumeStoreOptions& options) override {
    return OpenSqliteVolumeStore(tmp_.File("volumes.db"), options);
  }
  void Sql(const std::string& sql) override {
    CommandResult r = RunCommand({"sqlite3", tmp_.File("volumes.db"), sql});
    ASSERT_EQ(r.exit_code, 0) << sql << ": " << r.err;
  }
  void SetSchemaVersion(int version) override {
    Sql("PRAGMA user_version=" + std::to_string(version));
  }

 private:
  TempDir tmp_;
};

std::unique_ptr<StoreUnderTest> NewStoreUnderTest() {
  return std::make_unique<SqliteStoreUnderTest>();
}

namespace {

class SqliteVolumeStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<VolumeStore> Open() {
    auto store = OpenSqliteVolumeStore(path());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string path() const { return tmp_.File("volumes.db"); }
  TempDir tmp_;
};

TEST_F(SqliteVolumeStoreTest, NewerSchemaIsRefused) {
  { Open(); }
  ASSERT_EQ(RunCommand({"sqlite3", path(), "PRAGMA user_version=99"}).exit_code, 0);
  EXPECT_THAT(OpenSqliteVolumeStore(path()),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "schema version 99"));
}

TEST_F(SqliteVolumeStoreTest, AForeignDatabaseGetsNoTablesAdded) {
  ASSERT_EQ(RunCommand({"sqlite3", path(), "CREATE TABLE customers (name TEXT)"}).exit_code, 0);
  const std::string before = ReadFileOrDie(path());
  EXPECT_THAT(OpenSqliteVolumeStore(path()),
              StatusIsWith(absl::StatusCode::kFailedPrecondition,
                           "not a volcrypt volume database"));
  // Not a byte changed: even switching the journal to WAL writes the header.
  EXPECT_EQ(ReadFileOrDie(path()), before);
  CommandResult tables = RunCommand({"sqlite3", path(), ".tables"});
  EXPECT_EQ(tables.out, "customers\n");
  EXPECT_EQ(RunCommand({"sqlite3", path(), "PRAGMA user_version"}).out, "0\n");
}

// Bytes that are not UTF-8, as written by an older volcrypt: one volume's
// row cannot take every listing down with it.
TEST_F(SqliteVolumeStoreTest, ARowHoldingBytesThatAreNotUtf8IsSkippedAndNamed) {
  {
    auto store = Open();
    VOLCRYPT_ASSERT_OK(store->CreateVolume(TestVolume("v1")));
    VOLCRYPT_ASSERT_OK(store->CreateVolume(TestVolume("v2")));
    VOLCRYPT_ASSERT_OK(store->CreateSnapshot({"s1", "v1", "", "available", 0}));
    VOLCRYPT_ASSERT_OK(store->CreateSnapshot({"s2", "v1", "", "available", 0}));
    VOLCRYPT_ASSERT_OK(store->CreateBackup({"b1", "v1", "h1", "", "u", "p", "available", 0}));
    VOLCRYPT_ASSERT_OK(store->CreateBackup({"b2", "v1", "h1", "", "u", "p", "available", 0}));
    VOLCRYPT_ASSERT_OK(store->CreateAttachment({"v2", "h1", "vm", "sdb", true, false,
                                                "attached", 0, ""}));
  }
  ASSERT_EQ(RunCommand({"sqlite3", path(),
                        "UPDATE volumes SET project_id = CAST(X'70FF' AS TEXT) WHERE id = 'v2';"
                        "UPDATE snapshots SET status = CAST(X'C0AF' AS TEXT) WHERE id = 's2';"
                        "UPDATE backups SET user_id = CAST(X'ED9FBF0A' AS TEXT) WHERE id = 'b2';"
                        "UPDATE attachments SET domain = CAST(X'F4908080' AS TEXT)"})
                .exit_code, 0);
  auto store = Open();
  absl::StatusOr<std::vector<VolumeRecord>> volumes = store->ListVolumes({});
  ASSERT_TRUE(volumes.ok()) << volumes.status();
  ASSERT_EQ(volumes->size(), 1u);
  EXPECT_EQ((*volumes)[0].id, "v1");
  absl::StatusOr<VolumeRecord> v2 = store->GetVolume("v2");
  EXPECT_THAT(v2, StatusIsWith(absl::StatusCode::kDataLoss, "project_id \"p\\xff\""));
  absl::StatusOr<std::vector<SnapshotRecord>> snaps = store->ListSnapshots("v1");
  ASSERT_TRUE(snaps.ok()) << snaps.status();
  ASSERT_EQ(snaps->size(), 1u);
  EXPECT_EQ((*snaps)[0].id, "s1");
  absl::StatusOr<std::vector<BackupRecord>> backups = store->ListBackups("");
  ASSERT_TRUE(backups.ok()) << backups.status();
  ASSERT_EQ(backups->size(), 1u);
  EXPECT_EQ((*backups)[0].id, "b1");
  EXPECT_THAT(store->GetAttachment("v2"), StatusIsWith(absl::StatusCode::kDataLoss, "domain"));
}

// Another process holding SQLite's write lock (BEGIN IMMEDIATE), as a long
// write or a migration would; released when the object goes.
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::string& path) {
    int locked[2];
    if (pipe(locked) != 0 || pipe(release_) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      sqlite3* db = nullptr;
      char c = 0;
      const bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
                      sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
      if (write(locked[1], ok ? "1" : "0", 1) != 1) _exit(2);
      (void)!read(release_[0], &c, 1);
      _exit(0);
    }
    char c = 0;
    held_ = read(locked[0], &c, 1) == 1 && c == '1';
    close(locked[0]);
    close(locked[1]);
  }
  ~WriteLockHolder() {
    if (pid_ > 0) {
      (void)!write(release_[1], "x", 1);
      WaitForExit(pid_);
    }
    close(release_[0]);
    close(release_[1]);
  }
  bool held() const { return held_; }

 private:
  int release_[2] = {-1, -1};
  pid_t pid_ = -1;
  bool held_ = false;
};

TEST_F(SqliteVolumeStoreTest, AReadOnlyStoreListsWhileAnotherProcessHoldsTheWriteLock) {
  { VOLCRYPT_ASSERT_OK(Open()->CreateVolume(TestVolume("v1"))); }
  WriteLockHolder lock(path());
  ASSERT_TRUE(lock.held());
  VolumeStoreOptions o;
  o.read_only = true;
  absl::StatusOr<std::unique_ptr<VolumeStore>> ro = OpenSqliteVolumeStore(path(), o);
  ASSERT_TRUE(ro.ok()) << ro.status();
  absl::StatusOr<std::vector<VolumeRecord>> all = (*ro)->ListVolumes({});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*ro)->GetVolume("v1")->id, "v1");
}

// The CLI's read-only commands use it: `volume list` and `volume show` work
// while another process writes (before, they waited 10 s and failed with
// "database is locked").
TEST_F(SqliteVolumeStoreTest, CliListAndShowWorkWhileAnotherProcessHoldsTheWriteLock) {
  const char* cli = std::getenv("VOLCRYPT_CLI");
  if (cli == nullptr || access(cli, X_OK) != 0) GTEST_SKIP() << "the volcrypt CLI is not built";
  { VOLCRYPT_ASSERT_OK(Open()->CreateVolume(TestVolume("v1"))); }
  const std::string state = tmp_.File("state");
  WriteLockHolder lock(path());
  ASSERT_TRUE(lock.held());
  for (const char* verb : {"list", "show"}) {
    std::vector<std::string> argv = {cli, "--state-dir", state, "--db", path(), "volume", verb};
    if (std::string(verb) == "show") argv.push_back("v1");
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << verb << ": " << r.err;
    EXPECT_NE(r.out.find("\"v1\""), std::string::npos) << r.out;
  }
}

// A database that does not exist is not created by a read-only open.
TEST_F(SqliteVolumeStoreTest, AReadOnlyOpenOfAMissingDatabaseIsNotFoundAndCreatesNothing) {
  VolumeStoreOptions o;
  o.read_only = true;
  EXPECT_THAT(OpenSqliteVolumeStore(path(), o), StatusIs(absl::StatusCode::kNotFound));
  struct stat st;
  EXPECT_NE(stat(path().c_str(), &st), 0);
}

TEST_F(SqliteVolumeStoreTest, UsesWalAndRecordsSchemaVersion) {
  { Open(); }
  auto mode = RunCommand({"sqlite3", path(), "PRAGMA journal_mode"});
  EXPECT_EQ(mode.out, "wal\n");
  auto version = RunCommand({"sqlite3", path(), "PRAGMA user_version"});
  EXPECT_EQ(version.out, "10\n");
}

// SQL that takes a current database back to schema `version`: what each
// later migration added, newest first, then `also` and the version itself.
std::string BackToSchema(int version, const std::string& also = "") {
  static const std::pair<int, const char*> kAdded[] = {
      {10, "DROP TABLE conversions; "},
      {9, "DROP TABLE released_keys; "},
      {8, "ALTER TABLE volumes DROP COLUMN key_created_at; "
          "ALTER TABLE volumes DROP COLUMN rekey_key_id; "},
      {7, "ALTER TABLE volumes DROP COLUMN key_format; "},
      {6, "ALTER TABLE volumes DROP COLUMN key_claim; "
          "ALTER TABLE volumes DROP COLUMN key_claim_until; "
          "ALTER TABLE backups DROP COLUMN key_claim; "
          "ALTER TABLE backups DROP COLUMN key_claim_until; "},
      {5, "ALTER TABLE volumes DROP COLUMN location_proof; "},
      {4, "ALTER TABLE attachments DROP COLUMN secret_uuid; "},
  };
  std::string sql;
  for (const auto& [added_in, undo] : kAdded) {
    if (added_in > version) sql += undo;
  }
  return sql + also + "PRAGMA user_version=" + std::to_string(version);
}

TEST_F(SqliteVolumeStoreTest, MigratesASchemaThreeAttachment) {
  {
    auto store = Open();
    VOLCRYPT_ASSERT_OK(store->CreateVolume(TestVolume("v1")));
    VOLCRYPT_ASSERT_OK(store->CreateAttachment(
        {"v1", "h1", "vm", "sdb", true, false, "attached", 0, "ignored"}));
  }
  ASSERT_EQ(RunCommand({"sqlite3", path(),
                        BackToSchema(3)})
                .exit_code, 0);
  absl::StatusOr<AttachmentRecord> a = Open()->GetAttachment("v1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->domain, "vm");
  EXPECT_EQ(a->status, "attached");
  EXPECT_EQ(a->secret_uuid, "");  // the volume's key id, as before schema 4
}

TEST_F(SqliteVolumeStoreTest, MigratesASchemaFourVolumeToAnEmptyLocationProof) {
  { VOLCRYPT_ASSERT_OK(Open()->CreateVolume(TestVolume("v1"))); }
  ASSERT_EQ(RunCommand({"sqlite3", path(),
                        BackToSchema(4)})
                .exit_code, 0);
  auto store = Open();
  absl::StatusOr<VolumeRecord> v = store->GetVolume("v1");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->location_proof, "");
  VolumeRecord proved = *v;
  proved.location_proof = "luks-uuid:0b5e1e7c-4a4f-4d3a-9a52-3f2f7f9d8c11";
  VOLCRYPT_ASSERT_OK(store->UpdateVolume(proved, VolumeStatus::kAvailable));
  EXPECT_EQ(store->GetVolume("v1")->location_proof, proved.location_proof);
}

// Schema 7: rows from before it are hex-key volumes; a managed volume's
// passphrase format is kept and written back by updates.
TEST_F(SqliteVolumeStoreTest, MigratesASchemaSixVolumeToAHexKeyFormat) {
  { VOLCRYPT_ASSERT_OK(Open()->CreateVolume(TestVolume("v1"))); }
  ASSERT_EQ(RunCommand({"sqlite3", path(),
                        BackToSchema(6)})
                .exit_code, 0);
  auto store = Open();
  absl::StatusOr<VolumeRecord> v = store->GetVolume("v1");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->key_format, KeyFormat::kHex);
  VolumeRecord managed = TestVolume("v2");
  managed.key_format = KeyFormat::kPassphrase;
  managed.status = VolumeStatus::kManaging;
  VOLCRYPT_ASSERT_OK(store->CreateVolume(managed));
  EXPECT_EQ(store->GetVolume("v2")->key_format, KeyFormat::kPassphrase);
  EXPECT_EQ(store->GetVolume("v2")->status, VolumeStatus::kManaging);
  managed.status = VolumeStatus::kAvailable;
  VOLCRYPT_ASSERT_OK(store->UpdateVolume(managed, VolumeStatus::kManaging));
  EXPECT_EQ(store->GetVolume("v2")->key_format, KeyFormat::kPassphrase);
  EXPECT_EQ(RunCommand({"sqlite3", path(), "SELECT key_format FROM volumes WHERE id='v2'"}).out,
            "passphrase\n");
}

// A key_format this build does not know (written by hand, or by a newer
// volcrypt) is never guessed as hex: the row is skipped and named.
TEST_F(SqliteVolumeStoreTest, AnUnknownKeyFormatMakesTheRowUnreadable) {
  {
    auto store = Open();
    VOLCRYPT_ASSERT_OK(store->CreateVolume(TestVolume("v1")));
    VOLCRYPT_ASSERT_OK(store->CreateVolume(TestVolume("v2")));
  }
  ASSERT_EQ(RunCommand({"sqlite3", path(), "UPDATE volumes SET key_format = 'rot13' "
                                           "WHERE id = 'v2'"})
                .exit_code, 0);
  auto store = Open();
  std::vector<SkippedRow> skipped;
  absl::StatusOr<std::vector<VolumeRecord>> volumes = store->ListVolumes({}, &skipped);
  ASSERT_TRUE(volumes.ok()) << volumes.status();
  ASSERT_EQ(volumes->size(), 1u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].reason.find("key_format"), std::string::npos) << skipped[0].reason;
  EXPECT_THAT(store->GetVolume("v2"), StatusIsWith(absl::StatusCode::kDataLoss, "key_format"));
}

TEST_F(SqliteVolumeStoreTest, MigratesAVersionOneDatabase) {
  { Open()->CreateVolume(TestVolume("v1")).IgnoreError(); }
  ASSERT_EQ(RunCommand({"sqlite3", path(),
                        BackToSchema(1, "DROP TABLE attachments; DROP INDEX backups_by_host; "
                                        "DROP INDEX snapshots_by_key; ")})
                .exit_code, 0);
  auto store = Open();
  EXPECT_TRUE(store->GetVolume("v1").ok());
  VOLCRYPT_EXPECT_OK(store->CreateAttachment({"v1", "h1", "vm", "sdb", true, false, "attaching", 0, ""}));
}

// Schema 8: a key from before it dates from its volume's creation.
TEST_F(SqliteVolumeStoreTest, MigratesASchemaSevenVolumeWhoseKeyDatesFromItsCreation) {
  { VOLCRYPT_ASSERT_OK(Open()->CreateVolume(TestVolume("v1"))); }
  ASSERT_EQ(RunCommand({"sqlite3", path(),
                        BackToSchema(7, "UPDATE volumes SET created_at = 1000; ")})
                .exit_code, 0);
  absl::StatusOr<VolumeRecord> v = Open()->GetVolume("v1");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->key_created_at, 1000);
  EXPECT_EQ(v->rekey_key_id, "");
}

TEST_F(SqliteVolumeStoreTest, DatabaseFileIsPrivate) {
  { Open(); }
  struct stat st;
  ASSERT_EQ(stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(VolumeStatusTest, NamesRoundTrip) {
  EXPECT_EQ(VolumeStatusName(VolumeStatus::kInUse), "in-use");
  EXPECT_EQ(*ParseVolumeStatus("in-use"), VolumeStatus::kInUse);
  EXPECT_THAT(ParseVolumeStatus("sleeping"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
