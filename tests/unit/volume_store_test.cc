#include "volcrypt/volume_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

VolumeRecord Record(const std::string& id, const std::string& host = "h1") {
  VolumeRecord v;
  v.id = id;
  v.host = host;
  v.location = VolumeLocation::Path("/vols/" + id);
  v.size_bytes = 1 << 30;
  v.encryption_key_id = "aaaaaaaa-0000-4000-8000-000000000001";
  v.user_id = "u";
  v.project_id = "p";
  v.status = VolumeStatus::kAvailable;
  return v;
}

class VolumeStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<VolumeStore> Open() {
    auto store = OpenSqliteVolumeStore(path());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string path() const { return tmp_.File("volumes.db"); }
  TempDir tmp_;
};

TEST_F(VolumeStoreTest, CreateGetListPersistAcrossReopen) {
  {
    auto store = Open();
    VolumeRecord v = Record("v1");
    v.encryption.format = LuksFormat::kLuks2;
    v.encryption.engine = EncryptionEngine::kLibrbd;
    v.location = VolumeLocation::Rbd("volumes", "volume-v1");
    VOLCRYPT_ASSERT_OK(store->CreateVolume(v));
    VOLCRYPT_ASSERT_OK(store->CreateVolume(Record("v2", "h2")));
  }
  auto store = Open();
  absl::StatusOr<VolumeRecord> v = store->GetVolume("v1");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->location.kind, BackendKind::kRbd);
  EXPECT_EQ(v->location.pool, "volumes");
  EXPECT_EQ(v->encryption.format, LuksFormat::kLuks2);
  EXPECT_EQ(v->encryption.engine, EncryptionEngine::kLibrbd);
  EXPECT_EQ(v->size_bytes, 1u << 30);
  EXPECT_GT(v->created_at, 0);
  VolumeFilter on_h2;
  on_h2.host = "h2";
  auto listed = store->ListVolumes(on_h2);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "v2");
  EXPECT_EQ(store->ListVolumes({})->size(), 2u);
}

TEST_F(VolumeStoreTest, DuplicateAndMissing) {
  auto store = Open();
  VOLCRYPT_ASSERT_OK(store->CreateVolume(Record("v1")));
  EXPECT_THAT(store->CreateVolume(Record("v1")), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store->GetVolume("nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->DeleteVolume("nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->UpdateVolume(Record("nope"), VolumeStatus::kAvailable),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VolumeStoreTest, UpdateIsCompareAndSetOnStatus) {
  auto store = Open();
  VolumeRecord v = Record("v1");
  VOLCRYPT_ASSERT_OK(store->CreateVolume(v));
  v.status = VolumeStatus::kDeleting;
  VOLCRYPT_ASSERT_OK(store->UpdateVolume(v, VolumeStatus::kAvailable));
  v.status = VolumeStatus::kInUse;
  EXPECT_THAT(store->UpdateVolume(v, VolumeStatus::kAvailable),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "deleting"));
  EXPECT_EQ(store->GetVolume("v1")->status, VolumeStatus::kDeleting);
}

TEST_F(VolumeStoreTest, SnapshotsBlockDeleteAndCountAsKeyReferences) {
  auto store = Open();
  VolumeRecord v = Record("v1");
  VOLCRYPT_ASSERT_OK(store->CreateVolume(v));
  SnapshotRecord snap{"s1", "v1", v.encryption_key_id, "available", 0};
  VOLCRYPT_ASSERT_OK(store->CreateSnapshot(snap));
  BackupRecord backup{"b1", "v1", "h1", v.encryption_key_id, "u", "p", "available", 0};
  VOLCRYPT_ASSERT_OK(store->CreateBackup(backup));
  EXPECT_EQ(*store->CountKeyReferences(v.encryption_key_id), 3);
  EXPECT_THAT(store->DeleteVolume("v1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  VOLCRYPT_ASSERT_OK(store->DeleteSnapshot("s1"));
  VOLCRYPT_ASSERT_OK(store->DeleteVolume("v1"));
  EXPECT_EQ(*store->CountKeyReferences(v.encryption_key_id), 1);
  EXPECT_EQ(store->ListBackups("h1")->size(), 1u);
  EXPECT_TRUE(store->ListBackups("h9")->empty());
}

TEST_F(VolumeStoreTest, SnapshotOfMissingVolumeIsRefused) {
  auto store = Open();
  EXPECT_FALSE(store->CreateSnapshot({"s1", "ghost", "", "available", 0}).ok());
}

TEST_F(VolumeStoreTest, ConcurrentThreadsAndProcessesNeverLoseAWrite) {
  auto store = Open();
  constexpr int kPerWriter = 25;
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto own = OpenSqliteVolumeStore(path());
      int failures = own.ok() ? 0 : 1;
      for (int i = 0; own.ok() && i < kPerWriter; ++i) {
        if (!(*own)->CreateVolume(Record("p" + std::to_string(p) + "-" + std::to_string(i))).ok()) {
          ++failures;
        }
      }
      _exit(failures);
    }
    children.push_back(pid);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        EXPECT_TRUE(store->CreateVolume(Record("t" + std::to_string(t) + "-" + std::to_string(i))).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(store->ListVolumes({})->size(), 4u * kPerWriter);
}

TEST_F(VolumeStoreTest, ConcurrentCompareAndSetHasOneWinner) {
  auto store = Open();
  VOLCRYPT_ASSERT_OK(store->CreateVolume(Record("v1")));
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      VolumeRecord v = Record("v1");
      v.status = VolumeStatus::kDeleting;
      if (store->UpdateVolume(v, VolumeStatus::kAvailable).ok()) ++wins;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST_F(VolumeStoreTest, NewerSchemaIsRefused) {
  { Open(); }
  ASSERT_EQ(RunCommand({"sqlite3", path(), "PRAGMA user_version=99"}).exit_code, 0);
  EXPECT_THAT(OpenSqliteVolumeStore(path()),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "schema version 99"));
}

TEST_F(VolumeStoreTest, UsesWalAndRecordsSchemaVersion) {
  { Open(); }
  auto mode = RunCommand({"sqlite3", path(), "PRAGMA journal_mode"});
  EXPECT_EQ(mode.out, "wal\n");
  auto version = RunCommand({"sqlite3", path(), "PRAGMA user_version"});
  EXPECT_EQ(version.out, "2\n");
}

TEST(VolumeStatusTest, NamesRoundTrip) {
  EXPECT_EQ(VolumeStatusName(VolumeStatus::kInUse), "in-use");
  EXPECT_EQ(*ParseVolumeStatus("in-use"), VolumeStatus::kInUse);
  EXPECT_THAT(ParseVolumeStatus("sleeping"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace volcrypt

namespace volcrypt {
namespace {

TEST_F(VolumeStoreTest, AttachmentsOnePerVolume) {
  auto store = Open();
  VOLCRYPT_ASSERT_OK(store->CreateVolume(Record("v1")));
  AttachmentRecord a{"v1", "h1", "vm-1", "sdb", true, false, "attaching", 0};
  VOLCRYPT_ASSERT_OK(store->CreateAttachment(a));
  EXPECT_THAT(store->CreateAttachment(a), StatusIs(absl::StatusCode::kAlreadyExists));
  a.status = "attached";
  VOLCRYPT_ASSERT_OK(store->UpdateAttachment(a));
  absl::StatusOr<AttachmentRecord> got = store->GetAttachment("v1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->domain, "vm-1");
  EXPECT_EQ(got->status, "attached");
  EXPECT_TRUE(got->live);
  EXPECT_FALSE(got->config);
  VOLCRYPT_ASSERT_OK(store->DeleteAttachment("v1"));
  EXPECT_THAT(store->GetAttachment("v1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->CreateAttachment({"ghost", "h1", "vm", "sdb", true, false, "attaching", 0}),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(VolumeStoreTest, MigratesAVersionOneDatabase) {
  { Open()->CreateVolume(Record("v1")).IgnoreError(); }
  ASSERT_EQ(RunCommand({"sqlite3", path(), "DROP TABLE attachments; PRAGMA user_version=1"}).exit_code, 0);
  auto store = Open();
  EXPECT_TRUE(store->GetVolume("v1").ok());
  VOLCRYPT_EXPECT_OK(store->CreateAttachment({"v1", "h1", "vm", "sdb", true, false, "attaching", 0}));
}

}  // namespace
}  // namespace volcrypt
