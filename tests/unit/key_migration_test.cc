// The fixed-key migration with a real FileKeyManager as the destination and
// real LUKS file volumes on SQLite: decisions, per-item results, cinder's log
// lines, failures and kills at every step followed by a rerun. The same
// migration against a real Barbican and PostgreSQL is in tests/migration.
#include "volcrypt/key_migration.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <gtest/gtest.h>

#include "tests/migration/migration_world.h"
#include "tests/support/faults.h"
#include "tests/support/recording_logger.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace testing {
namespace {

constexpr char kHost[] = "host-a";

class KeyMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = SecretBytes::Random(32).value();
    store_ = OpenStore();
    Reopen();
    world_ = std::make_unique<MigrationWorld>(*store_, tmp_.path());
    fixed_ = world_->FixedKeys();
    // host-a: v1 (2 snapshots, a backup), v2, v3 (a backup) on the fixed key,
    // v4 already on its own key; host-b: w1 (a snapshot, a backup).
    world_->AddFixedKeyVolume("v1", kHost, 2, true);
    world_->AddFixedKeyVolume("v2", kHost, 0, false);
    world_->AddFixedKeyVolume("v3", kHost, 0, true);
    world_->AddOwnKeyVolume("v4", kHost, *keys_);
    world_->AddFixedKeyVolume("w1", "host-b", 1, true);
  }

  std::unique_ptr<VolumeStore> OpenStore() {
    return std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db")).value());
  }

  // A new destination and fault plan, as a new process has.
  void Reopen() {
    keys_ = std::move(NewFileKeyManager(tmp_.File("keys"), master_.Clone(), nullptr).value());
    plan_ = FaultPlan();
    faulty_keys_ = std::make_unique<FaultyKeyManager>(keys_.get(), &plan_);
    faulty_store_ = std::make_unique<FaultyStore>(store_.get(), &plan_);
  }

  absl::StatusOr<KeyMigrationReport> Run(bool dry_run = false) {
    KeyMigrationOptions o;
    o.host = kHost;
    o.dry_run = dry_run;
    return MigrateFixedKeyItems(*faulty_store_, fixed_.get(), *faulty_keys_, o, &log_);
  }

  TempDir tmp_;
  SecretBytes master_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<KeyManager> keys_;
  FaultPlan plan_;
  std::unique_ptr<FaultyKeyManager> faulty_keys_;
  std::unique_ptr<FaultyStore> faulty_store_;
  std::unique_ptr<MigrationWorld> world_;
  std::unique_ptr<KeyManager> fixed_;
  RecordingLogger log_;
};

TEST_F(KeyMigrationTest, MigratesThisHostsItemsAndTheirSnapshotsWithCindersLogLines) {
  ASSERT_EQ(world_->FixedKeyItems(kHost), 5);
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->migrated, 5);
  EXPECT_EQ(r->failed, 0);
  EXPECT_FALSE(r->aborted);
  EXPECT_EQ(r->volumes_remaining, 0);
  EXPECT_EQ(r->backups_remaining, 0);
  ASSERT_EQ(r->items.size(), 5u);
  EXPECT_EQ(r->items[0].id, "v1");
  EXPECT_EQ(r->items[0].snapshots, 2);
  EXPECT_EQ(r->items[3].kind, KeyHolderKind::kBackup);
  EXPECT_EQ(world_->FixedKeyItems(kHost), 0);
  EXPECT_EQ(world_->FixedKeyItems("host-b"), 2);  // another host's: untouched
  world_->Check(kHost, *keys_);
  // Each item got a secret of its own.
  std::set<std::string> ids;
  for (const auto& item : r->items) ids.insert(item.new_key_id);
  EXPECT_EQ(ids.size(), 5u);

  EXPECT_EQ(log_.Count("Starting migration of ConfKeyManager keys."), 1);
  EXPECT_EQ(log_.Count("Migrating volume v1 encryption key to Barbican"), 1);
  EXPECT_EQ(log_.Count("Migrating backup v1-backup encryption key to Barbican"), 1);
  EXPECT_EQ(log_.Count("No volumes are using the ConfKeyManager's encryption_key_id."), 1);
  EXPECT_EQ(log_.Count("No backups are known to be using the ConfKeyManager's encryption_key_id."), 1);

  // A second run finds nothing to do and says so in cinder's words.
  log_.lines.clear();
  absl::StatusOr<KeyMigrationReport> again = Run();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->items.empty());
  EXPECT_EQ(log_.Count("No volumes are using the ConfKeyManager's encryption_key_id."), 1);
}

TEST_F(KeyMigrationTest, DryRunListsAndChangesNothing) {
  absl::StatusOr<KeyMigrationReport> r = Run(/*dry_run=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->items.size(), 5u);
  for (const auto& item : r->items) {
    EXPECT_EQ(item.outcome, KeyMigrationOutcome::kWouldMigrate) << item.id;
  }
  EXPECT_EQ(r->volumes_remaining, 3);
  EXPECT_EQ(r->backups_remaining, 2);
  EXPECT_EQ(world_->FixedKeyItems(kHost), 5);
  EXPECT_EQ(plan_.calls("keys.StoreKey"), 0);
  EXPECT_EQ(log_.Count("There are still 3 volume(s) using the ConfKeyManager's "
                       "all-zeros encryption key ID."), 1);
  EXPECT_EQ(log_.Count("There are still 2 backup(s) using the ConfKeyManager's "
                       "all-zeros encryption key ID."), 1);
}

TEST_F(KeyMigrationTest, DecisionsNotToMigrateAreCindersLines) {
  KeyMigrationOptions o;
  o.host = kHost;
  auto r = MigrateFixedKeyItems(*store_, fixed_.get(), *fixed_, o, &log_);
  EXPECT_EQ(r->not_started_because,
            "Not migrating encryption keys because the ConfKeyManager is still in use.");
  r = MigrateFixedKeyItems(*store_, nullptr, *keys_, o, &log_);
  EXPECT_EQ(r->not_started_because,
            "Not migrating encryption keys because the ConfKeyManager's fixed_key is not in use.");
  o.host = "host-z";
  r = MigrateFixedKeyItems(*store_, fixed_.get(), *keys_, o, &log_);
  EXPECT_EQ(r->not_started_because,
            "Not migrating encryption keys because there are no volumes or "
            "backups associated with this host.");
  EXPECT_EQ(log_.lines.size(), 3u);
  EXPECT_EQ(r->host, "host-z");
  EXPECT_EQ(world_->FixedKeyItems(kHost), 5);
  // No host: this machine's, which holds nothing here.
  o.host = "";
  r = MigrateFixedKeyItems(*store_, fixed_.get(), *keys_, o, &log_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->host.empty());
  EXPECT_NE(r->host, kHost);
  EXPECT_NE(r->not_started_because.find("no volumes or backups"), std::string::npos);
  o.max_errors = -1;
  EXPECT_THAT(MigrateFixedKeyItems(*store_, fixed_.get(), *keys_, o, &log_),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "max_errors"));
}

TEST_F(KeyMigrationTest, MoreThanThreeErrorsAbortsAndARerunFinishes) {
  for (int n = 1; n <= 4; ++n) plan_.Inject("keys.StoreKey", n, FaultPlan::Action::kFail);
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->aborted);
  EXPECT_EQ(r->failed, 4);
  EXPECT_EQ(r->items.size(), 4u);  // the fifth was never tried
  EXPECT_EQ(r->volumes_remaining, 3);
  EXPECT_EQ(r->backups_remaining, 2);
  EXPECT_EQ(log_.Count("Error migrating encryption key: injected fault in keys.StoreKey"), 4);
  EXPECT_EQ(log_.Count("Aborting encryption key migration (too many errors)."), 1);
  EXPECT_EQ(log_.Count("There are still 3 volume(s) using the ConfKeyManager's "
                       "all-zeros encryption key ID."), 1);
  // Nothing half-done: failed items hold the zeros id and no secret.
  EXPECT_TRUE(keys_->FindKeysByName(MigratedKeyName(KeyHolderKind::kVolume, "v1"))->empty());

  Reopen();
  r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->migrated, 5);
  world_->Check(kHost, *keys_);
}

TEST_F(KeyMigrationTest, ThreeErrorsDoNotAbort) {
  for (int n = 1; n <= 3; ++n) plan_.Inject("keys.AddConsumer", n, FaultPlan::Action::kFail);
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->aborted);
  EXPECT_EQ(r->failed, 3);
  EXPECT_EQ(r->migrated, 2);
  // A secret stored before the failed step is adopted by the rerun.
  Reopen();
  r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->migrated, 3);
  int adopted = 0;
  for (const auto& item : r->items) adopted += item.adopted_secret;
  EXPECT_EQ(adopted, 3);
  world_->Check(kHost, *keys_);
}

// A kill at each step of the second item, then a rerun in a new process
// state: every item ends on a readable key, exactly one secret per item.
class KeyMigrationKillTest : public KeyMigrationTest,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(KeyMigrationKillTest, KillThenRerunEndsWithEveryItemOnOneReadableSecret) {
  const pid_t pid = fork();
  if (pid == 0) {
    // Its own connection: an SQLite connection must not cross a fork.
    (void)store_.release();
    store_ = OpenStore();
    faulty_store_ = std::make_unique<FaultyStore>(store_.get(), &plan_);
    plan_.Inject(GetParam(), 2, FaultPlan::Action::kCrash);
    (void)Run();
    _exit(0);
  }
  EXPECT_EQ(WaitForExit(pid), 42) << "the kill point was never reached";
  Reopen();
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->failed, 0);
  EXPECT_EQ(world_->FixedKeyItems(kHost), 0);
  world_->Check(kHost, *keys_);
}

INSTANTIATE_TEST_SUITE_P(EveryStep, KeyMigrationKillTest,
                         ::testing::Values("store.BeginKeyIdChange",
                                           "keys.FindKeysByName", "keys.StoreKey",
                                           "keys.GetKey", "keys.AddConsumer",
                                           "keys.GrantReadAccess",
                                           "store.KeyIdChange.Commit"),
                         [](const ::testing::TestParamInfo<const char*>& step) {
                           std::string n = step.param;
                           for (char& c : n) c = isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST_F(KeyMigrationTest, DuplicatesFromInterruptedRunsAreCleanedAndStrangersLeftAlone) {
  // Two runs that died after storing v2's secret, and an unrelated secret
  // that happens to bear the name.
  const std::string name = MigratedKeyName(KeyHolderKind::kVolume, "v2");
  KeyRequest req;
  req.name = name;
  const SecretBytes fixed_key = fixed_->GetKey(kFixedKeyId).value();
  const std::string first = keys_->StoreKey(fixed_key, req).value();
  const std::string second = keys_->StoreKey(fixed_key, req).value();
  const std::string stranger = keys_->CreateKey(req).value().id;
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  const KeyMigrationItem& v2 = r->items[1];
  ASSERT_EQ(v2.id, "v2");
  EXPECT_TRUE(v2.adopted_secret);
  EXPECT_TRUE(v2.new_key_id == first || v2.new_key_id == second);
  EXPECT_EQ(v2.duplicates_deleted, 1);
  std::vector<std::string> left = keys_->FindKeysByName(name).value();
  std::sort(left.begin(), left.end());
  std::vector<std::string> expected = {v2.new_key_id, stranger};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(left, expected);
  world_->Check(kHost, *keys_, /*named=*/false);
}

// The migration commits after a delete has read v2's record and before it
// marks it 'deleting': the delete must not write the zeros id back, and must
// delete the key v2 has by then, not leave it orphaned.
TEST_F(KeyMigrationTest, ADeleteRacingTheMigrationDeletesTheMigratedKey) {
  std::unique_ptr<BlockBackend> mapped = NewMappedBackend();
  VolumeServiceOptions o;
  o.keys = keys_.get();  // the service already on the new key manager
  o.store = faulty_store_.get();
  o.mapped = mapped.get();
  o.host = kHost;
  o.logger = NullLogger();
  std::unique_ptr<VolumeService> service = std::move(VolumeService::Create(o).value());
  plan_.RunBefore("store.UpdateVolume", 1, [&] {
    KeyMigrationOptions m;
    m.host = kHost;
    absl::StatusOr<KeyMigrationReport> r =
        MigrateFixedKeyItems(*store_, fixed_.get(), *keys_, m, NullLogger());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_NE(store_->GetVolume("v2")->encryption_key_id, kFixedKeyId);
  });
  VOLCRYPT_ASSERT_OK(service->DeleteVolume("v2"));
  EXPECT_THAT(store_->GetVolume("v2"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<std::vector<std::string>> left =
      keys_->FindKeysByName(MigratedKeyName(KeyHolderKind::kVolume, "v2"));
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty()) << "the migrated key was orphaned: " << (*left)[0];
  // The others moved and still open.
  world_->Check(kHost, *keys_);
}

// The migration claims an item and then waits on the key manager (a slow
// Barbican): meanwhile other commands, in other processes, read and write
// the database, the claimed item included. Before, SQLite's write lock was
// held across the key manager call and they failed with "database is
// locked".
TEST_F(KeyMigrationTest, OtherCommandsReadAndWriteWhileAnItemIsClaimedAndItsKeyCallWaits) {
  VolumeStoreOptions o;
  o.lock_timeout_ms = 1000;
  std::unique_ptr<VolumeStore> other =
      std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db"), o).value());
  bool ran = false;
  plan_.RunBefore("keys.StoreKey", 1, [&] {
    ran = true;
    absl::StatusOr<std::vector<VolumeRecord>> all = other->ListVolumes({});
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(other->GetVolume("v1")->encryption_key_id, kFixedKeyId);
    VolumeRecord v4 = other->GetVolume("v4").value();
    v4.status = VolumeStatus::kInUse;
    VOLCRYPT_EXPECT_OK(other->UpdateVolume(v4, VolumeStatus::kAvailable));
    VolumeRecord fresh = v4;
    fresh.id = "v9";
    fresh.status = VolumeStatus::kCreating;
    VOLCRYPT_EXPECT_OK(other->CreateVolume(fresh));
    VOLCRYPT_EXPECT_OK(other->DeleteVolume("v9"));
  });
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(ran);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->migrated, 5);
  EXPECT_EQ(store_->GetVolume("v4")->status, VolumeStatus::kInUse);
  world_->Check(kHost, *keys_);
}

// A delete that begins while the migration holds the item: the migration's
// record fails, it deletes the secret it made (no orphan), and the item is
// reported skipped, still on the zeros id for its delete to finish.
TEST_F(KeyMigrationTest, ADeleteBegunWhileAnItemIsClaimedLeavesNoOrphanedSecret) {
  VolumeStoreOptions o;
  o.lock_timeout_ms = 1000;
  std::unique_ptr<VolumeStore> other =
      std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db"), o).value());
  plan_.RunBefore("keys.AddConsumer", 1, [&] {
    VolumeRecord v1 = other->GetVolume("v1").value();
    v1.status = VolumeStatus::kDeleting;
    VOLCRYPT_ASSERT_OK(other->UpdateVolume(v1, VolumeStatus::kAvailable));
  });
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->items[0].id, "v1");
  EXPECT_EQ(r->items[0].outcome, KeyMigrationOutcome::kSkipped) << r->items[0].error;
  EXPECT_NE(r->items[0].error.find("deleting"), std::string::npos) << r->items[0].error;
  EXPECT_EQ(r->migrated, 4);
  EXPECT_EQ(store_->GetVolume("v1")->encryption_key_id, kFixedKeyId);
  absl::StatusOr<std::vector<std::string>> left =
      keys_->FindKeysByName(MigratedKeyName(KeyHolderKind::kVolume, "v1"));
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty()) << "orphaned secret " << (*left)[0];
}

TEST_F(KeyMigrationTest, ItemsBeingDeletedAreSkippedAndReported) {
  VolumeRecord v2 = store_->GetVolume("v2").value();
  v2.status = VolumeStatus::kDeleting;
  VOLCRYPT_ASSERT_OK(store_->UpdateVolume(v2, VolumeStatus::kAvailable));
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->migrated, 4);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->items[1].outcome, KeyMigrationOutcome::kSkipped);
  EXPECT_EQ(r->volumes_remaining, 1);
}

TEST_F(KeyMigrationTest, ProgressIsReportedPerItem) {
  KeyMigrationOptions o;
  o.host = kHost;
  std::vector<std::pair<int, int>> seen;
  o.on_item = [&](const KeyMigrationItem&, const KeyMigrationProgress& p) {
    seen.emplace_back(p.done, p.total);
  };
  ASSERT_TRUE(MigrateFixedKeyItems(*store_, fixed_.get(), *keys_, o, &log_).ok());
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen.front(), std::make_pair(1, 5));
  EXPECT_EQ(seen.back(), std::make_pair(5, 5));
}

TEST_F(KeyMigrationTest, NoLogLineOrReportHoldsTheKey) {
  for (int n = 1; n <= 2; ++n) plan_.Inject("keys.StoreKey", n, FaultPlan::Action::kFail);
  absl::StatusOr<KeyMigrationReport> r = Run();
  ASSERT_TRUE(r.ok());
  const SecretBytes key = fixed_->GetKey(kFixedKeyId).value();
  std::string text = log_.Text();
  for (const auto& item : r->items) text += item.error + item.new_key_id;
  ExpectNoSecretIn(text, key);
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
