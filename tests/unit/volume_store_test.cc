// SQLite's VolumeStore: the store contract (tests/store) on a file, and
// what only SQLite has (WAL, PRAGMA user_version, schema upgrades).
#include "volcrypt/volume_store.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/store/store_under_test.h"
#include "tests/support/test_support.h"

namespace volcrypt {
namespace testing {

class SqliteStoreUnderTest : public StoreUnderTest {
 public:
  absl::StatusOr<std::unique_ptr<VolumeStore>> Open() override {
    return OpenSqliteVolumeStore(tmp_.File("volumes.db"));
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

TEST_F(SqliteVolumeStoreTest, UsesWalAndRecordsSchemaVersion) {
  { Open(); }
  auto mode = RunCommand({"sqlite3", path(), "PRAGMA journal_mode"});
  EXPECT_EQ(mode.out, "wal\n");
  auto version = RunCommand({"sqlite3", path(), "PRAGMA user_version"});
  EXPECT_EQ(version.out, "4\n");
}

TEST_F(SqliteVolumeStoreTest, MigratesASchemaThreeAttachment) {
  {
    auto store = Open();
    VOLCRYPT_ASSERT_OK(store->CreateVolume(TestVolume("v1")));
    VOLCRYPT_ASSERT_OK(store->CreateAttachment(
        {"v1", "h1", "vm", "sdb", true, false, "attached", 0, "ignored"}));
  }
  ASSERT_EQ(RunCommand({"sqlite3", path(),
                        "ALTER TABLE attachments DROP COLUMN secret_uuid; "
                        "PRAGMA user_version=3"})
                .exit_code, 0);
  absl::StatusOr<AttachmentRecord> a = Open()->GetAttachment("v1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->domain, "vm");
  EXPECT_EQ(a->status, "attached");
  EXPECT_EQ(a->secret_uuid, "");  // the volume's key id, as before schema 4
}

TEST_F(SqliteVolumeStoreTest, MigratesAVersionOneDatabase) {
  { Open()->CreateVolume(TestVolume("v1")).IgnoreError(); }
  ASSERT_EQ(RunCommand({"sqlite3", path(),
                        "DROP TABLE attachments; DROP INDEX backups_by_host; "
                        "DROP INDEX snapshots_by_key; PRAGMA user_version=1"})
                .exit_code, 0);
  auto store = Open();
  EXPECT_TRUE(store->GetVolume("v1").ok());
  VOLCRYPT_EXPECT_OK(store->CreateAttachment({"v1", "h1", "vm", "sdb", true, false, "attaching", 0, ""}));
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
