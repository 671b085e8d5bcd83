// What every VolumeStore must do, run against SQLite (tests/unit) and a real
// PostgreSQL server (tests/postgres).
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "tests/store/store_under_test.h"
#include "tests/support/recording_logger.h"
#include "tests/support/test_support.h"
#include "volcrypt/errors.h"

namespace volcrypt {
namespace testing {

VolumeRecord TestVolume(const std::string& id, const std::string& host) {
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

namespace {

constexpr char kNewKey[] = "bbbbbbbb-0000-4000-8000-000000000002";

class VolumeStoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = NewStoreUnderTest();
    if (!db_->SkipReason().empty()) GTEST_SKIP() << db_->SkipReason();
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  std::unique_ptr<VolumeStore> Open() {
    auto store = db_->Open();
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // Runs `child` in a forked process with its own connection; returns its
  // exit code.
  template <typename F>
  pid_t Fork(F child) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto own = db_->Open();
      _exit(own.ok() ? child(**own) : 99);
    }
    return pid;
  }

  std::unique_ptr<StoreUnderTest> db_;
  std::unique_ptr<VolumeStore> store_;
};

TEST_F(VolumeStoreContract, CreateGetListPersistAcrossReopen) {
  VolumeRecord v = TestVolume("v1");
  v.encryption.format = LuksFormat::kLuks2;
  v.encryption.engine = EncryptionEngine::kLibrbd;
  v.location = VolumeLocation::Rbd("volumes", "volume-v1");
  v.size_bytes = uint64_t{5} << 40;  // needs 64 bits
  v.location_proof = "rbd-image-id:10226b8b4567";
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v2", "h2")));
  store_ = Open();
  absl::StatusOr<VolumeRecord> got = store_->GetVolume("v1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->location.kind, BackendKind::kRbd);
  EXPECT_EQ(got->location.pool, "volumes");
  EXPECT_EQ(got->encryption.format, LuksFormat::kLuks2);
  EXPECT_EQ(got->encryption.engine, EncryptionEngine::kLibrbd);
  EXPECT_EQ(got->size_bytes, uint64_t{5} << 40);
  EXPECT_EQ(got->location_proof, "rbd-image-id:10226b8b4567");
  EXPECT_GT(got->created_at, 0);
  VolumeFilter on_h2;
  on_h2.host = "h2";
  auto listed = store_->ListVolumes(on_h2);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "v2");
  VolumeFilter by_key_on_h1;
  by_key_on_h1.host = "h1";
  by_key_on_h1.encryption_key_id = v.encryption_key_id;
  EXPECT_EQ(store_->ListVolumes(by_key_on_h1)->size(), 1u);
  EXPECT_EQ(store_->ListVolumes({})->size(), 2u);
  EXPECT_EQ((*store_->ListVolumes({}))[0].location_proof, v.location_proof);
  EXPECT_EQ((*store_->ListVolumes({}))[1].location_proof, "");
}

TEST_F(VolumeStoreContract, ListFindsTheRecordsNamingALocation) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  VolumeRecord rbd = TestVolume("v2");
  rbd.location = VolumeLocation::Rbd("volumes", "volume-v2");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(rbd));
  VolumeFilter at;
  at.location = VolumeLocation::Path("/vols/v1");
  ASSERT_EQ(store_->ListVolumes(at)->size(), 1u);
  EXPECT_EQ((*store_->ListVolumes(at))[0].id, "v1");
  at.location = VolumeLocation::Rbd("volumes", "volume-v2");
  ASSERT_EQ(store_->ListVolumes(at)->size(), 1u);
  EXPECT_EQ((*store_->ListVolumes(at))[0].id, "v2");
  at.location = VolumeLocation::Rbd("other", "volume-v2");
  EXPECT_TRUE(store_->ListVolumes(at)->empty());
  at.location = VolumeLocation::Path("/vols/v2");
  EXPECT_TRUE(store_->ListVolumes(at)->empty());
}

TEST_F(VolumeStoreContract, UpdateWritesTheLocationProof) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  VolumeRecord v = TestVolume("v1");
  v.location_proof = "dev:2049 ino:131075";
  VOLCRYPT_ASSERT_OK(store_->UpdateVolume(v, VolumeStatus::kAvailable));
  EXPECT_EQ(store_->GetVolume("v1")->location_proof, "dev:2049 ino:131075");
  v.location_proof = std::string(256, 'p');
  VOLCRYPT_ASSERT_OK(store_->UpdateVolume(v, VolumeStatus::kAvailable));
  v.location_proof = std::string(257, 'p');
  EXPECT_THAT(store_->UpdateVolume(v, VolumeStatus::kAvailable),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "location_proof"));
  EXPECT_EQ(store_->GetVolume("v1")->location_proof, std::string(256, 'p'));
}

TEST_F(VolumeStoreContract, RotationStepsAreCompareAndSetOnTheRow) {
  VolumeStore* store = store_.get();
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store->CreateVolume(v));
  const std::string old_id = store->GetVolume("v1")->encryption_key_id;
  const int64_t made = store->GetVolume("v1")->key_created_at;
  EXPECT_GT(made, 0);
  // Not before the key was made: already rotated.
  EXPECT_EQ(ErrnoOf(store->BeginKeyRotation("v1", VolumeStatus::kAvailable, made)), EALREADY);
  EXPECT_EQ(ErrnoOf(store->BeginKeyRotation("v1", VolumeStatus::kInUse, made + 1)), EBUSY);
  VOLCRYPT_ASSERT_OK(store->BeginKeyRotation("v1", VolumeStatus::kAvailable, made + 1));
  EXPECT_EQ(ErrnoOf(store->BeginKeyRotation("v1", VolumeStatus::kAvailable, made + 1)), EBUSY);
  EXPECT_EQ(ErrnoOf(store->SwapRotationKey("v1", old_id, "")), EBUSY) << "no other key yet";
  VOLCRYPT_ASSERT_OK(store->SetRotationKey("v1", "", "k2"));
  EXPECT_EQ(ErrnoOf(store->SetRotationKey("v1", "", "k3")), EBUSY);
  EXPECT_THAT(store->SetRotationKey("v1", "k2", "bad\nid"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  VOLCRYPT_ASSERT_OK(store->SwapRotationKey("v1", old_id, "k2"));
  EXPECT_EQ(ErrnoOf(store->SwapRotationKey("v1", old_id, "k2")), EBUSY);
  VolumeRecord now = store->GetVolume("v1").value();
  EXPECT_EQ(now.status, VolumeStatus::kRekeying);
  EXPECT_EQ(now.encryption_key_id, "k2");
  EXPECT_EQ(now.rekey_key_id, old_id);
  VOLCRYPT_ASSERT_OK(store->EndKeyRotation("v1", VolumeStatus::kAvailable));
  EXPECT_EQ(ErrnoOf(store->EndKeyRotation("v1", VolumeStatus::kAvailable)), EBUSY);
  now = store->GetVolume("v1").value();
  EXPECT_EQ(now.status, VolumeStatus::kAvailable);
  EXPECT_EQ(now.rekey_key_id, "");
  EXPECT_THAT(store->EndKeyRotation("nope", VolumeStatus::kAvailable),
              StatusIs(absl::StatusCode::kNotFound));
  VolumeFilter older;
  older.key_created_before = now.key_created_at;
  EXPECT_TRUE(store->ListVolumes(older)->empty());
  older.key_created_before = now.key_created_at + 1;
  EXPECT_EQ(store->ListVolumes(older)->size(), 1u);
}

TEST_F(VolumeStoreContract, AConversionSwapsBothSidesInOneStepAndCountsBothKeys) {
  VolumeStore* store = store_.get();
  VOLCRYPT_ASSERT_OK(store->CreateVolume(TestVolume("v1")));
  const std::string old_key = store->GetVolume("v1")->encryption_key_id;
  ConversionRecord c;
  c.volume_id = "v1";
  c.other_location = VolumeLocation::Rbd("rbd", "v1-new");
  c.other_encryption.format = LuksFormat::kLuks2;
  c.other_encryption.engine = EncryptionEngine::kLibrbd;
  c.owner = "h/1/x";
  EXPECT_EQ(ErrnoOf(store->BeginConversion(c, VolumeStatus::kInUse)), EBUSY);
  VOLCRYPT_ASSERT_OK(store->BeginConversion(c, VolumeStatus::kAvailable));
  EXPECT_EQ(store->GetVolume("v1")->status, VolumeStatus::kConverting);
  EXPECT_EQ(ErrnoOf(store->SwapConversion("v1")), EBUSY) << "no key or proof yet";
  c.other_key_id = kNewKey;
  c.other_location_proof = "luks:1234";
  c.copied_bytes = 4096;
  VOLCRYPT_ASSERT_OK(store->UpdateConversion(c));
  EXPECT_EQ(store->CountKeyReferences(kNewKey).value(), 1) << "the row holds the new key";
  c.other_key_id = "another";
  EXPECT_EQ(ErrnoOf(store->UpdateConversion(c)), EBUSY) << "a recorded key is never lost";
  VOLCRYPT_ASSERT_OK(store->SwapConversion("v1"));
  const VolumeRecord now = store->GetVolume("v1").value();
  EXPECT_EQ(now.location.image, "v1-new");
  EXPECT_EQ(now.encryption_key_id, kNewKey);
  EXPECT_EQ(now.encryption.format, LuksFormat::kLuks2);
  EXPECT_EQ(now.location_proof, "luks:1234");
  const ConversionRecord row = store->GetConversion("v1").value();
  EXPECT_EQ(row.phase, ConversionPhase::kSwapped);
  EXPECT_EQ(row.other_location.path, "/vols/v1");
  EXPECT_EQ(row.other_key_id, old_key);
  EXPECT_EQ(row.copied_bytes, 4096u);
  EXPECT_EQ(row.prior_status, VolumeStatus::kAvailable);
  EXPECT_EQ(store->CountKeyReferences(old_key).value(), 1) << "the row holds the old key";
  EXPECT_EQ(ErrnoOf(store->SwapConversion("v1")), EBUSY);
  VOLCRYPT_ASSERT_OK(store->EndConversion("v1", row.prior_status));
  EXPECT_EQ(store->GetVolume("v1")->status, VolumeStatus::kAvailable);
  EXPECT_THAT(store->GetConversion("v1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store->CountKeyReferences(old_key).value(), 0);
}

TEST_F(VolumeStoreContract, DuplicateAndMissing) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  EXPECT_THAT(store_->CreateVolume(TestVolume("v1")),
              StatusIsWith(absl::StatusCode::kAlreadyExists, "volume v1 already exists"));
  EXPECT_THAT(store_->GetVolume("nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->DeleteVolume("nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->UpdateVolume(TestVolume("nope"), VolumeStatus::kAvailable),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->CreateVolume(TestVolume("")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A schema version this build did not write is refused with one line: a
// newer one (a later volcrypt's database) and a negative one (no volcrypt
// writes it; it once indexed the migration table at -1).
TEST_F(VolumeStoreContract, OpeningRefusesASchemaVersionItDoesNotKnow) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  store_.reset();
  for (int version : {99, -1, -2147483647}) {
    SCOPED_TRACE(version);
    db_->SetSchemaVersion(version);
    absl::StatusOr<std::unique_ptr<VolumeStore>> opened = db_->Open();
    EXPECT_THAT(opened, StatusIsWith(absl::StatusCode::kFailedPrecondition,
                                     "schema version " + std::to_string(version)));
    EXPECT_EQ(opened.status().message().find('\n'), absl::string_view::npos);
  }
}

// A database that holds tables of its own but no volcrypt schema version is
// someone else's: volcrypt's tables are not added to it.
TEST_F(VolumeStoreContract, OpeningRefusesADatabaseThatIsNotVolcrypts) {
  std::unique_ptr<StoreUnderTest> foreign = NewStoreUnderTest();
  foreign->Sql("CREATE TABLE volumes (name TEXT, owner TEXT)");
  EXPECT_THAT(foreign->Open(), StatusIsWith(absl::StatusCode::kFailedPrecondition,
                                            "not a volcrypt volume database"));
  // Untouched: still only its own table, which opening again still refuses.
  EXPECT_THAT(foreign->Open(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Each text field of every record kind, with a value that breaks readers
// (JSON writers, terminals, log lines) or exceeds its stated length.
TEST_F(VolumeStoreContract, WritesRefuseBadTextNamingTheFieldInOneShortLine) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  const std::string not_utf8 = "u\xff\xfe";
  const std::string newline = "a\nb";
  const std::string huge(10000, 'x');
  auto expect_refused = [](const absl::Status& s, const std::string& field) {
    EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, field));
    EXPECT_EQ(s.message().find('\n'), absl::string_view::npos) << s;
    EXPECT_EQ(s.message().find('\xff'), absl::string_view::npos) << s;
    EXPECT_LT(s.message().size(), 200u) << s;
  };
  struct Case {
    const char* field;
    std::function<void(VolumeRecord&)> spoil;
  };
  const std::vector<Case> volume_cases = {
      {"id", [&](VolumeRecord& v) { v.id = "v\n2"; }},
      {"id", [&](VolumeRecord& v) { v.id = huge; }},
      {"id", [&](VolumeRecord& v) { v.id = "../v2"; }},
      {"host", [&](VolumeRecord& v) { v.host = newline; }},
      {"user_id", [&](VolumeRecord& v) { v.user_id = not_utf8; }},
      {"project_id", [&](VolumeRecord& v) { v.project_id = std::string("p\0q", 3); }},
      {"user_id", [&](VolumeRecord& v) { v.user_id = "\xed\xa0\x80"; }},  // a surrogate
      {"user_id", [&](VolumeRecord& v) { v.user_id = "\xc0\xaf"; }},      // overlong '/'
      {"project_id", [&](VolumeRecord& v) { v.project_id = "p\xc2\x85"; }},  // C1 NEL
      {"encryption_key_id", [&](VolumeRecord& v) { v.encryption_key_id = not_utf8; }},
      {"path", [&](VolumeRecord& v) { v.location.path = "/vols/\x1b[2Jx"; }},
      {"pool", [&](VolumeRecord& v) { v.location.pool = not_utf8; }},
      {"image", [&](VolumeRecord& v) { v.location.image = huge; }},
      {"cipher", [&](VolumeRecord& v) { v.encryption.cipher = newline; }},
      {"location_proof", [&](VolumeRecord& v) { v.location_proof = "uuid\n"; }},
  };
  for (const Case& c : volume_cases) {
    SCOPED_TRACE(c.field);
    VolumeRecord fresh = TestVolume("v2");
    c.spoil(fresh);
    expect_refused(store_->CreateVolume(fresh), c.field);
    if (std::string(c.field) == "id") continue;
    VolumeRecord update = TestVolume("v1");
    c.spoil(update);
    expect_refused(store_->UpdateVolume(update, VolumeStatus::kAvailable), c.field);
  }
  EXPECT_EQ(store_->ListVolumes({})->size(), 1u);
  EXPECT_EQ(store_->GetVolume("v1")->user_id, "u");

  expect_refused(store_->CreateSnapshot({"s\n1", "v1", "", "available", 0}), "id");
  expect_refused(store_->CreateSnapshot({"s1", "v1", "", newline, 0}), "status");
  expect_refused(store_->CreateBackup({"b1", "v1", "h1", "", not_utf8, "p", "available", 0}),
                 "user_id");
  expect_refused(store_->CreateBackup({"b1", "v1", "h1", "", "u", huge, "available", 0}),
                 "project_id");
  expect_refused(store_->CreateBackup({"b1", "v\x01", "h1", "", "u", "p", "available", 0}),
                 "volume_id");
  expect_refused(store_->CreateAttachment({"v1", "h1", "vm\n1", "sdb", true, false,
                                           "attaching", 0, ""}), "domain");
  expect_refused(store_->CreateAttachment({"v1", "h1", "vm", "sd\xff", true, false,
                                           "attaching", 0, ""}), "target_dev");
  VOLCRYPT_ASSERT_OK(store_->CreateAttachment({"v1", "h1", "vm", "sdb", true, false,
                                               "attaching", 0, ""}));
  expect_refused(store_->UpdateAttachment({"v1", not_utf8, "vm", "sdb", true, false,
                                           "attached", 0, ""}), "host");
  EXPECT_TRUE(store_->ListSnapshots("")->empty());
  EXPECT_TRUE(store_->ListBackups("")->empty());
}

// Values that are fine: UTF-8 names, cinder's host@backend#pool, an empty
// key id (before the key exists).
TEST_F(VolumeStoreContract, WritesAcceptTheStatedCharacterSets) {
  VolumeRecord v = TestVolume("Vol_1.a-b");
  v.host = "cinder-1@lvm#pool.a";
  v.user_id = "J\xc3\xbcrgen";  // Jürgen
  v.project_id = std::string(255, 'p');
  v.location.path = "/vols/\xe6\x97\xa5\xe6\x9c\xac";
  v.encryption_key_id = "";
  v.status = VolumeStatus::kCreating;
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  absl::StatusOr<VolumeRecord> got = store_->GetVolume(v.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->user_id, v.user_id);
  EXPECT_EQ(got->location.path, v.location.path);
  VOLCRYPT_EXPECT_OK(store_->CreateAttachment(
      {v.id, v.host, "instance-\xc3\xa9", "vdb", true, false, "attaching", 0, ""}));
}

// A row written behind the store's back, or by a build that knew another
// value, costs only itself: listings leave it out, reading it says which
// row and field.
TEST_F(VolumeStoreContract, AnUnreadableRowIsSkippedByListAndNamedByGet) {
  for (const char* id : {"v1", "v2", "v3", "v4", "v5"}) {
    VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume(id)));
  }
  db_->Sql("UPDATE volumes SET backend = 'floppy' WHERE id = 'v2'");
  db_->Sql("UPDATE volumes SET status = 'sleeping' WHERE id = 'v3'");
  db_->Sql("UPDATE volumes SET user_id = 'a\nb' WHERE id = 'v4'");
  db_->Sql("UPDATE volumes SET engine = 'warp' WHERE id = 'v5'");
  absl::StatusOr<std::vector<VolumeRecord>> all = store_->ListVolumes({});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].id, "v1");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"v2", "backend"}, {"v3", "status"}, {"v4", "user_id"}, {"v5", "engine"}};
  for (const auto& [id, field] : expected) {
    absl::StatusOr<VolumeRecord> got = store_->GetVolume(id);
    EXPECT_THAT(got, StatusIsWith(absl::StatusCode::kDataLoss, "volume " + id));
    EXPECT_THAT(got, StatusIsWith(absl::StatusCode::kDataLoss, field));
    EXPECT_EQ(got.status().message().find('\n'), absl::string_view::npos);
  }
  // Status changes on good rows go on.
  VolumeRecord v1 = TestVolume("v1");
  v1.status = VolumeStatus::kInUse;
  VOLCRYPT_EXPECT_OK(store_->UpdateVolume(v1, VolumeStatus::kAvailable));
}

TEST_F(VolumeStoreContract, ListingsReportTheRowsTheyLeftOutAndLogThem) {
  RecordingLogger log;
  VolumeStoreOptions o;
  o.logger = &log;
  absl::StatusOr<std::unique_ptr<VolumeStore>> store = db_->Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  VOLCRYPT_ASSERT_OK((*store)->CreateVolume(TestVolume("v1")));
  VOLCRYPT_ASSERT_OK((*store)->CreateVolume(TestVolume("v2")));
  VOLCRYPT_ASSERT_OK((*store)->CreateSnapshot({"s1", "v1", "", "available", 0}));
  VOLCRYPT_ASSERT_OK((*store)->CreateBackup({"b1", "v1", "h1", "", "u", "p", "available", 0}));
  db_->Sql("UPDATE volumes SET kdf = 'quantum' WHERE id = 'v2'");
  db_->Sql("UPDATE snapshots SET status = 'gone\n' WHERE id = 's1'");
  db_->Sql("UPDATE backups SET host = '\thost' WHERE id = 'b1'");
  std::vector<SkippedRow> skipped;
  absl::StatusOr<std::vector<VolumeRecord>> volumes = (*store)->ListVolumes({}, &skipped);
  ASSERT_TRUE(volumes.ok()) << volumes.status();
  EXPECT_EQ(volumes->size(), 1u);
  absl::StatusOr<std::vector<SnapshotRecord>> snaps = (*store)->ListSnapshots("", &skipped);
  ASSERT_TRUE(snaps.ok()) << snaps.status();
  EXPECT_TRUE(snaps->empty());
  absl::StatusOr<std::vector<BackupRecord>> backups = (*store)->ListBackups("", &skipped);
  ASSERT_TRUE(backups.ok()) << backups.status();
  EXPECT_TRUE(backups->empty());
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_EQ(skipped[0].kind, "volume");
  EXPECT_EQ(skipped[0].id, "v2");
  EXPECT_EQ(skipped[0].reason, "kdf \"quantum\" is not one this volcrypt knows");
  EXPECT_EQ(skipped[1].kind, "snapshot");
  EXPECT_EQ(skipped[1].id, "s1");
  EXPECT_EQ(skipped[1].reason, "status \"gone\\x0a\" holds a control character");
  EXPECT_EQ(skipped[2].kind, "backup");
  EXPECT_EQ(skipped[2].reason, "host \"\\x09host\" holds a control character");
  EXPECT_EQ(log.Count("volume database: left out unreadable volume v2: kdf \"quantum\" "
                      "is not one this volcrypt knows"), 1) << log.Text();
  EXPECT_EQ(log.lines.size(), 3u) << log.Text();
}

// Read-only commands (list, show) open the store read-only: it reads as
// usual and refuses every write, before touching the database.
TEST_F(VolumeStoreContract, AReadOnlyStoreReadsAndRefusesEveryWrite) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  VOLCRYPT_ASSERT_OK(store_->CreateSnapshot({"s1", "v1", "", "available", 0}));
  VOLCRYPT_ASSERT_OK(store_->CreateBackup({"b1", "v1", "h1", "", "u", "p", "available", 0}));
  const AttachmentRecord a{"v1", "h1", "vm", "sdb", true, false, "attached", 0, ""};
  VOLCRYPT_ASSERT_OK(store_->CreateAttachment(a));
  VolumeStoreOptions o;
  o.read_only = true;
  absl::StatusOr<std::unique_ptr<VolumeStore>> opened = db_->Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status();
  VolumeStore& ro = **opened;
  EXPECT_EQ(ro.GetVolume("v1")->id, "v1");
  EXPECT_EQ(ro.ListVolumes({})->size(), 1u);
  EXPECT_EQ(ro.ListSnapshots("v1")->size(), 1u);
  EXPECT_EQ(ro.ListBackups("")->size(), 1u);
  EXPECT_EQ(ro.GetAttachment("v1")->domain, "vm");
  EXPECT_EQ(*ro.CountKeyReferences(v.encryption_key_id), 2);  // volume, snapshot
  VolumeRecord changed = v;
  changed.status = VolumeStatus::kDeleting;
  const std::vector<absl::Status> writes = {
      ro.CreateVolume(TestVolume("v2")),
      ro.UpdateVolume(changed, VolumeStatus::kAvailable),
      ro.DeleteVolume("v1"),
      ro.CreateSnapshot({"s2", "v1", "", "available", 0}),
      ro.DeleteSnapshot("s1"),
      ro.CreateBackup({"b2", "v1", "h1", "", "u", "p", "available", 0}),
      ro.DeleteBackup("b1"),
      ro.CreateAttachment(a),
      ro.UpdateAttachment(a),
      ro.DeleteAttachment("v1"),
      ro.BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id).status(),
  };
  for (const absl::Status& s : writes) {
    EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kFailedPrecondition, "read-only"));
    EXPECT_EQ(ErrnoOf(s), EROFS);
  }
  EXPECT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kAvailable);
  EXPECT_EQ(store_->ListSnapshots("")->size(), 1u);
}

// A read-only open upgrades nothing: it asks for a read-write open first.
TEST_F(VolumeStoreContract, AReadOnlyOpenOfAnOlderSchemaAsksForAnUpgrade) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  store_.reset();
  db_->SetSchemaVersion(4);
  VolumeStoreOptions o;
  o.read_only = true;
  absl::StatusOr<std::unique_ptr<VolumeStore>> ro = db_->Open(o);
  EXPECT_THAT(ro, StatusIsWith(absl::StatusCode::kFailedPrecondition, "upgrade"));
  EXPECT_EQ(ErrnoOf(ro.status()), ESTALE);
  db_->SetSchemaVersion(-5);
  EXPECT_THAT(db_->Open(o), StatusIsWith(absl::StatusCode::kFailedPrecondition,
                                         "schema version -5"));
}

TEST_F(VolumeStoreContract, UpdateIsCompareAndSetOnStatus) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  v.status = VolumeStatus::kDeleting;
  VOLCRYPT_ASSERT_OK(store_->UpdateVolume(v, VolumeStatus::kAvailable));
  v.status = VolumeStatus::kInUse;
  EXPECT_THAT(store_->UpdateVolume(v, VolumeStatus::kAvailable),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "deleting"));
  EXPECT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kDeleting);
}

// An unmanage's release: the record goes and its key stays counted, once
// however often the same key is released; a snapshot still blocks it.
TEST_F(VolumeStoreContract, ReleaseRemovesTheRecordAndKeepsItsKeyCounted) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  VOLCRYPT_ASSERT_OK(store_->CreateSnapshot({"s1", "v1", v.encryption_key_id, "available", 0}));
  EXPECT_THAT(store_->ReleaseVolume("v1"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "1 snapshot"));
  EXPECT_EQ(*store_->CountKeyReferences(v.encryption_key_id), 2);  // no release yet
  VOLCRYPT_ASSERT_OK(store_->DeleteSnapshot("s1"));
  VOLCRYPT_ASSERT_OK(store_->ReleaseVolume("v1"));
  EXPECT_THAT(store_->GetVolume("v1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*store_->CountKeyReferences(v.encryption_key_id), 1);
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));  // managed again, then let go again
  VOLCRYPT_ASSERT_OK(store_->ReleaseVolume("v1"));
  EXPECT_EQ(*store_->CountKeyReferences(v.encryption_key_id), 1);
  EXPECT_THAT(store_->ReleaseVolume("v1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VolumeStoreContract, SnapshotsBlockDeleteAndCountAsKeyReferences) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  VOLCRYPT_ASSERT_OK(store_->CreateSnapshot({"s1", "v1", v.encryption_key_id, "available", 0}));
  VOLCRYPT_ASSERT_OK(store_->CreateBackup(
      {"b1", "v1", "h1", v.encryption_key_id, "u", "p", "available", 0}));
  EXPECT_EQ(*store_->CountKeyReferences(v.encryption_key_id), 3);
  EXPECT_THAT(store_->DeleteVolume("v1"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "1 snapshot"));
  VOLCRYPT_ASSERT_OK(store_->DeleteSnapshot("s1"));
  EXPECT_THAT(store_->DeleteSnapshot("s1"), StatusIs(absl::StatusCode::kNotFound));
  VOLCRYPT_ASSERT_OK(store_->DeleteVolume("v1"));
  EXPECT_EQ(*store_->CountKeyReferences(v.encryption_key_id), 1);
  EXPECT_EQ(store_->ListBackups("h1")->size(), 1u);
  EXPECT_TRUE(store_->ListBackups("h9")->empty());
  EXPECT_EQ(store_->ListBackups("")->size(), 1u);
  VOLCRYPT_ASSERT_OK(store_->DeleteBackup("b1"));
  EXPECT_THAT(store_->DeleteBackup("b1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VolumeStoreContract, SnapshotOfMissingVolumeIsRefused) {
  EXPECT_THAT(store_->CreateSnapshot({"s1", "ghost", "", "available", 0}),
              StatusIsWith(absl::StatusCode::kNotFound, "volume ghost"));
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  VOLCRYPT_ASSERT_OK(store_->CreateSnapshot({"s1", "v1", "", "available", 0}));
  EXPECT_THAT(store_->CreateSnapshot({"s1", "v1", "", "available", 0}),
              StatusIsWith(absl::StatusCode::kAlreadyExists, "snapshot s1"));
}

TEST_F(VolumeStoreContract, AttachmentsOnePerVolume) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  AttachmentRecord a{"v1", "h1", "vm-1", "sdb", true, false, "attaching", 0,
                     "5d8a2c1e-0b7f-4e59-9c3a-1f2e3d4c5b6a"};
  VOLCRYPT_ASSERT_OK(store_->CreateAttachment(a));
  EXPECT_THAT(store_->CreateAttachment(a), StatusIs(absl::StatusCode::kAlreadyExists));
  a.status = "attached";
  VOLCRYPT_ASSERT_OK(store_->UpdateAttachment(a));
  absl::StatusOr<AttachmentRecord> got = store_->GetAttachment("v1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->domain, "vm-1");
  EXPECT_EQ(got->status, "attached");
  EXPECT_TRUE(got->live);
  EXPECT_FALSE(got->config);
  EXPECT_EQ(got->secret_uuid, "5d8a2c1e-0b7f-4e59-9c3a-1f2e3d4c5b6a");
  VOLCRYPT_ASSERT_OK(store_->DeleteAttachment("v1"));
  EXPECT_THAT(store_->GetAttachment("v1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->UpdateAttachment(a), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->CreateAttachment({"ghost", "h1", "vm", "sdb", true, false, "attaching", 0, ""}),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(VolumeStoreContract, AttachmentSecretChangesOnlyFromTheOneItNames) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  const std::string old_uuid = "5d8a2c1e-0b7f-4e59-9c3a-1f2e3d4c5b6a";
  const std::string new_uuid = "6e9b3d2f-1c80-4f6a-8d4b-2a3f4e5d6c7b";
  VOLCRYPT_ASSERT_OK(store_->CreateAttachment(
      {"v1", "h1", "vm-1", "sdb", true, true, "attached", 0, old_uuid}));
  EXPECT_THAT(store_->SetAttachmentSecret("v1", new_uuid, "7fac4e30-2d91-4a7b-9e5c-3b4a5f6e7d8c"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  VOLCRYPT_ASSERT_OK(store_->SetAttachmentSecret("v1", old_uuid, new_uuid));
  EXPECT_EQ(store_->GetAttachment("v1")->secret_uuid, new_uuid);
  VOLCRYPT_EXPECT_OK(store_->SetAttachmentSecret("v1", old_uuid, new_uuid));  // a rerun
  EXPECT_EQ(store_->GetAttachment("v1")->domain, "vm-1");
  EXPECT_THAT(store_->SetAttachmentSecret("ghost", old_uuid, new_uuid),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VolumeStoreContract, ConcurrentThreadsAndProcessesNeverLoseAWrite) {
  constexpr int kPerWriter = 25;
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    children.push_back(Fork([p](VolumeStore& own) {
      int failures = 0;
      for (int i = 0; i < kPerWriter; ++i) {
        if (!own.CreateVolume(TestVolume("p" + std::to_string(p) + "-" + std::to_string(i))).ok()) {
          ++failures;
        }
      }
      return failures;
    }));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        EXPECT_TRUE(store_->CreateVolume(TestVolume("t" + std::to_string(t) + "-" + std::to_string(i))).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (pid_t pid : children) EXPECT_EQ(WaitForExit(pid), 0);
  EXPECT_EQ(store_->ListVolumes({})->size(), 4u * kPerWriter);
}

TEST_F(VolumeStoreContract, ConcurrentCompareAndSetHasOneWinner) {
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v1")));
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      VolumeRecord v = TestVolume("v1");
      v.status = VolumeStatus::kDeleting;
      if (store_->UpdateVolume(v, VolumeStatus::kAvailable).ok()) ++wins;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST_F(VolumeStoreContract, KeyIdChangeMovesAVolumeAndTheSnapshotsThatFollowIt) {
  VolumeRecord v = TestVolume("v1");
  const std::string old_key = v.encryption_key_id;
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  VOLCRYPT_ASSERT_OK(store_->CreateSnapshot({"s1", "v1", old_key, "available", 0}));
  VOLCRYPT_ASSERT_OK(store_->CreateSnapshot({"s2", "v1", old_key, "available", 0}));
  VOLCRYPT_ASSERT_OK(store_->CreateBackup({"b1", "v1", "h1", old_key, "u", "p", "available", 0}));
  auto change = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", old_key);
  ASSERT_TRUE(change.ok()) << change.status();
  absl::StatusOr<int> snapshots = (*change)->Commit(kNewKey);
  ASSERT_TRUE(snapshots.ok()) << snapshots.status();
  EXPECT_EQ(*snapshots, 2);
  EXPECT_THAT((*change)->Commit(kNewKey), StatusIs(absl::StatusCode::kFailedPrecondition));
  change->reset();
  EXPECT_EQ(store_->GetVolume("v1")->encryption_key_id, kNewKey);
  absl::StatusOr<std::vector<SnapshotRecord>> snaps = store_->ListSnapshots("v1");
  ASSERT_TRUE(snaps.ok()) << snaps.status();
  for (const SnapshotRecord& s : *snaps) {
    EXPECT_EQ(s.encryption_key_id, kNewKey) << s.id;
  }
  // The backup has a key id of its own and moves on its own.
  EXPECT_EQ(*store_->CountKeyReferences(old_key), 1);
  auto backup = store_->BeginKeyIdChange(KeyHolderKind::kBackup, "b1", old_key);
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_EQ(*(*backup)->Commit(kNewKey), 0);
  backup->reset();
  EXPECT_EQ(*store_->CountKeyReferences(old_key), 0);
  EXPECT_EQ(*store_->CountKeyReferences(kNewKey), 4);
}

// Flows hold copies of records read before a key id change commits (the
// fixed-key migration runs beside them): none of their writes may put the
// old key id back.
TEST_F(VolumeStoreContract, ARecordedKeyIdChangesOnlyThroughAKeyIdChange) {
  VolumeRecord v = TestVolume("v1");
  const std::string old_key = v.encryption_key_id;
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  VolumeRecord stale = store_->GetVolume("v1").value();
  auto change = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", old_key);
  ASSERT_TRUE(change.ok()) << change.status();
  ASSERT_TRUE((*change)->Commit(kNewKey).ok());
  change->reset();
  stale.status = VolumeStatus::kInUse;
  VOLCRYPT_ASSERT_OK(store_->UpdateVolume(stale, VolumeStatus::kAvailable));
  absl::StatusOr<VolumeRecord> now = store_->GetVolume("v1");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->status, VolumeStatus::kInUse);
  EXPECT_EQ(now->encryption_key_id, kNewKey);
  // A snapshot takes the volume's key id as it is now.
  VOLCRYPT_ASSERT_OK(store_->CreateSnapshot({"s1", "v1", old_key, "available", 0}));
  absl::StatusOr<std::vector<SnapshotRecord>> snaps = store_->ListSnapshots("v1");
  ASSERT_TRUE(snaps.ok() && snaps->size() == 1u) << snaps.status();
  EXPECT_EQ((*snaps)[0].encryption_key_id, kNewKey);
}

TEST_F(VolumeStoreContract, KeyIdChangeRefusesItemsBeingCreatedOrDeleted) {
  VolumeRecord v = TestVolume("v1");
  v.status = VolumeStatus::kDeleting;
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  auto volume = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id);
  EXPECT_THAT(volume, StatusIsWith(absl::StatusCode::kFailedPrecondition, "volume v1 is deleting"));
  EXPECT_EQ(ErrnoOf(volume.status()), EBUSY);
  VOLCRYPT_ASSERT_OK(store_->CreateBackup(
      {"b1", "v1", "h1", v.encryption_key_id, "u", "p", "creating", 0}));
  auto backup = store_->BeginKeyIdChange(KeyHolderKind::kBackup, "b1", v.encryption_key_id);
  EXPECT_THAT(backup, StatusIsWith(absl::StatusCode::kFailedPrecondition, "backup b1 is creating"));
  EXPECT_EQ(ErrnoOf(backup.status()), EBUSY);
  // Another run moved it first: ESTALE, not EBUSY.
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v2")));
  auto moved = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v2", kNewKey);
  EXPECT_EQ(ErrnoOf(moved.status()), ESTALE);
}

TEST_F(VolumeStoreContract, KeyIdChangeChecksTheExpectedIdAndRollsBackUnlessCommitted) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  EXPECT_THAT(store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", kNewKey),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, v.encryption_key_id));
  EXPECT_THAT(store_->BeginKeyIdChange(KeyHolderKind::kVolume, "ghost", kNewKey),
              StatusIsWith(absl::StatusCode::kNotFound, "volume ghost"));
  EXPECT_THAT(store_->BeginKeyIdChange(KeyHolderKind::kBackup, "ghost", kNewKey),
              StatusIsWith(absl::StatusCode::kNotFound, "backup ghost"));
  {
    auto change = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id);
    ASSERT_TRUE(change.ok()) << change.status();
  }
  EXPECT_EQ(store_->GetVolume("v1")->encryption_key_id, v.encryption_key_id);
  // The store works normally after the abandoned change.
  VOLCRYPT_EXPECT_OK(store_->CreateVolume(TestVolume("v2")));
}

TEST_F(VolumeStoreContract, KeyIdChangeHoldsOffAnotherProcessUntilCommitted) {
  VolumeRecord v = TestVolume("v1");
  const std::string old_key = v.encryption_key_id;
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  int opened[2], go[2];
  ASSERT_EQ(pipe(opened), 0);
  ASSERT_EQ(pipe(go), 0);
  // The second migrator of the same item waits for the first and then sees
  // the item already moved: never a second migration.
  const pid_t child = Fork([&](VolumeStore& own) {
    char c;
    if (write(opened[1], "x", 1) != 1 || read(go[0], &c, 1) != 1) return 2;
    auto second = own.BeginKeyIdChange(KeyHolderKind::kVolume, "v1", old_key);
    return second.status().code() == absl::StatusCode::kFailedPrecondition ? 0 : 1;
  });
  char c;
  ASSERT_EQ(read(opened[0], &c, 1), 1);
  auto change = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", old_key);
  ASSERT_TRUE(change.ok()) << change.status();
  ASSERT_EQ(write(go[1], "x", 1), 1);
  usleep(200 * 1000);  // let the child reach the lock
  ASSERT_TRUE((*change)->Commit(kNewKey).ok());
  change->reset();
  EXPECT_EQ(WaitForExit(child), 0);
  for (int fd : {opened[0], opened[1], go[0], go[1]}) close(fd);
}

// A key id change is a claim, not a held transaction: while one is open
// (its caller waiting on a key manager), other connections read and write,
// this item included; only another key id change of the item waits.
TEST_F(VolumeStoreContract, KeyIdChangeLetsOtherCommandsGoOnMeanwhile) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v2")));
  auto change = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id);
  ASSERT_TRUE(change.ok()) << change.status();
  VolumeStoreOptions o;
  o.lock_timeout_ms = 1000;
  absl::StatusOr<std::unique_ptr<VolumeStore>> other = db_->Open(o);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ((*other)->ListVolumes({})->size(), 2u);
  VOLCRYPT_EXPECT_OK((*other)->CreateVolume(TestVolume("v3")));
  VolumeRecord v2 = TestVolume("v2");
  v2.status = VolumeStatus::kInUse;
  VOLCRYPT_EXPECT_OK((*other)->UpdateVolume(v2, VolumeStatus::kAvailable));
  VOLCRYPT_EXPECT_OK((*other)->CreateSnapshot({"s1", "v1", "", "available", 0}));
  EXPECT_THAT((*other)->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id),
              StatusIsWith(absl::StatusCode::kUnavailable, "lock"));
  // The snapshot taken meanwhile follows its volume.
  absl::StatusOr<int> snapshots = (*change)->Commit(kNewKey);
  ASSERT_TRUE(snapshots.ok()) << snapshots.status();
  EXPECT_EQ(*snapshots, 1);
  EXPECT_EQ((*other)->GetVolume("v1")->encryption_key_id, kNewKey);
}

// A delete may begin while the key id change is open; the change then
// records nothing, and says so, so its caller drops the key it made.
TEST_F(VolumeStoreContract, ADeleteBegunDuringAKeyIdChangeMakesItsCommitFail) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  auto change = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id);
  ASSERT_TRUE(change.ok()) << change.status();
  VolumeStoreOptions o;
  o.lock_timeout_ms = 1000;
  absl::StatusOr<std::unique_ptr<VolumeStore>> other = db_->Open(o);
  ASSERT_TRUE(other.ok()) << other.status();
  VolumeRecord deleting = v;
  deleting.status = VolumeStatus::kDeleting;
  VOLCRYPT_ASSERT_OK((*other)->UpdateVolume(deleting, VolumeStatus::kAvailable));
  absl::StatusOr<int> committed = (*change)->Commit(kNewKey);
  EXPECT_THAT(committed, StatusIsWith(absl::StatusCode::kFailedPrecondition, "deleting"));
  EXPECT_EQ(ErrnoOf(committed.status()), EBUSY);
  EXPECT_EQ(store_->GetVolume("v1")->encryption_key_id, v.encryption_key_id);
  // Gone altogether: NotFound.
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(TestVolume("v2")));
  auto second = store_->BeginKeyIdChange(KeyHolderKind::kVolume, "v2", v.encryption_key_id);
  ASSERT_TRUE(second.ok()) << second.status();
  VOLCRYPT_ASSERT_OK((*other)->DeleteVolume("v2"));
  EXPECT_THAT((*second)->Commit(kNewKey), StatusIs(absl::StatusCode::kNotFound));
}

// A claim whose owner neither commits nor releases it (killed on another
// host) ends with its lease; the owner, if it comes back, can no longer
// commit.
TEST_F(VolumeStoreContract, AnExpiredClaimIsTakenOverAndItsOwnerCannotCommit) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  VOLCRYPT_ASSERT_OK(store_->CreateBackup({"b1", "v1", "h1", v.encryption_key_id, "u", "p",
                                           "available", 0}));
  VolumeStoreOptions o;
  o.lock_timeout_ms = 200;
  absl::StatusOr<std::unique_ptr<VolumeStore>> other = db_->Open(o);
  ASSERT_TRUE(other.ok()) << other.status();
  for (KeyHolderKind kind : {KeyHolderKind::kVolume, KeyHolderKind::kBackup}) {
    const std::string id = kind == KeyHolderKind::kVolume ? "v1" : "b1";
    const std::string table = kind == KeyHolderKind::kVolume ? "volumes" : "backups";
    SCOPED_TRACE(id);
    auto first = store_->BeginKeyIdChange(kind, id, v.encryption_key_id);
    ASSERT_TRUE(first.ok()) << first.status();
    db_->Sql("UPDATE " + table + " SET key_claim_until = 1 WHERE id = '" + id + "'");
    auto second = (*other)->BeginKeyIdChange(kind, id, v.encryption_key_id);
    ASSERT_TRUE(second.ok()) << second.status();
    absl::StatusOr<int> late = (*first)->Commit(kNewKey);
    EXPECT_THAT(late, StatusIsWith(absl::StatusCode::kFailedPrecondition, "expired"));
    EXPECT_EQ(ErrnoOf(late.status()), ESTALE);
    first->reset();  // must not release the claim it lost
    EXPECT_THAT((*other)->BeginKeyIdChange(kind, id, v.encryption_key_id).status().code(),
                absl::StatusCode::kUnavailable);
    VOLCRYPT_EXPECT_OK((*second)->Commit(kNewKey).status());
  }
  EXPECT_EQ(*store_->CountKeyReferences(kNewKey), 2);
}

// A claim left by another host is waited for (up to the lock timeout), not
// taken, while its lease lasts.
TEST_F(VolumeStoreContract, AnotherHostsLiveClaimIsWaitedForThenUnavailable) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  db_->Sql("UPDATE volumes SET key_claim = 'elsewhere/4242/00', "
           "key_claim_until = 4102444800 WHERE id = 'v1'");
  VolumeStoreOptions o;
  o.lock_timeout_ms = 200;
  absl::StatusOr<std::unique_ptr<VolumeStore>> impatient = db_->Open(o);
  ASSERT_TRUE(impatient.ok()) << impatient.status();
  absl::StatusOr<std::unique_ptr<KeyIdChange>> refused =
      (*impatient)->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id);
  EXPECT_THAT(refused, StatusIsWith(absl::StatusCode::kUnavailable, "elsewhere"));
  EXPECT_EQ(refused.status().message().find('\n'), absl::string_view::npos);
}

// A migrator killed while it held a claim on this host: the next run takes
// the item over at once instead of waiting for the lease.
TEST_F(VolumeStoreContract, AClaimOfADeadProcessOnThisHostIsTakenOverAtOnce) {
  VolumeRecord v = TestVolume("v1");
  VOLCRYPT_ASSERT_OK(store_->CreateVolume(v));
  const pid_t child = Fork([&](VolumeStore& own) {
    auto change = own.BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id);
    if (!change.ok()) return 1;
    (void)change->release();  // killed: never committed, never released
    _exit(0);
    return 0;
  });
  ASSERT_EQ(WaitForExit(child), 0);
  VolumeStoreOptions o;
  o.lock_timeout_ms = 200;
  absl::StatusOr<std::unique_ptr<VolumeStore>> next = db_->Open(o);
  ASSERT_TRUE(next.ok()) << next.status();
  auto change = (*next)->BeginKeyIdChange(KeyHolderKind::kVolume, "v1", v.encryption_key_id);
  ASSERT_TRUE(change.ok()) << change.status();
  VOLCRYPT_EXPECT_OK((*change)->Commit(kNewKey).status());
}

}  // namespace
}  // namespace testing
}  // namespace volcrypt
