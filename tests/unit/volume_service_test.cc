// The orchestration layer over real components (FileKeyManager, SQLite,
// MappedBackend on files), with faults and crashes injected at every step.
#include "volcrypt/volume_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/faults.h"
#include "tests/support/faulty_file_service.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/size_rule.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::FaultPlan;
using ::volcrypt::testing::FaultyBackend;
using ::volcrypt::testing::FaultyFileServiceTest;
using ::volcrypt::testing::FaultyKeyManager;
using ::volcrypt::testing::FaultyStore;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

constexpr uint64_t kSize = 16 << 20;

class VolumeServiceTest : public FaultyFileServiceTest {
 protected:
  CreateVolumeRequest Request(const std::string& id) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(tmp_.File(id));
    r.size_bytes = kSize;
    return r;
  }

  int KeyFiles() {
    int n = 0;
    DIR* d = opendir(tmp_.File("keys").c_str());
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 4 && name.substr(name.size() - 4) == ".key") ++n;
    }
    closedir(d);
    return n;
  }
  // Someone else's LUKS volume (another tool, another store) at `path`;
  // returns its bytes.
  std::string ForeignLuksVolumeAt(const std::string& path) {
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(2 * kSize)), 0);
    close(fd);
    EXPECT_TRUE(luks::FormatPath(path, EncryptionSpec(),
                                 HexPassphrase(SecretBytes::Random(32).value()), {})
                    .ok());
    return ReadFileOrDie(path);
  }

  int Records() { return static_cast<int>(store_->ListVolumes({})->size()); }
  bool Exists(const std::string& id) { return access(tmp_.File(id).c_str(), F_OK) == 0; }

  // Nothing of volume `id` is left: no record, no key, no backing file.
  void ExpectNothingLeft(const std::string& id) {
    EXPECT_EQ(Records(), 0);
    EXPECT_EQ(KeyFiles(), 0);
    EXPECT_FALSE(Exists(id));
  }
};

TEST_F(VolumeServiceTest, CreateMakesAnAvailableVolumeItsKeyUnlocks) {
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(Request("v1"));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->status, VolumeStatus::kAvailable);
  EXPECT_EQ(v->host, "host-a");
  VOLCRYPT_EXPECT_OK(ValidateKeyId(v->encryption_key_id));
  EXPECT_EQ(store_->GetVolume("v1")->encryption_key_id, v->encryption_key_id);
  EXPECT_EQ(*service_->VerifyVolumeKey("v1"), 0);
  absl::StatusOr<luks::LuksInfo> info = luks::Inspect(tmp_.File("v1"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->payload_bytes, kSize);
  EXPECT_EQ(info->keyslots[0].iterations, 1000u);
}

// The key manager hands back the bytes it made: a create costs no read of
// its own key (a Barbican round trip).
TEST_F(VolumeServiceTest, CreateNeverReadsBackTheKeyItMade) {
  ASSERT_TRUE(service_->CreateVolume(Request("v1")).ok());
  EXPECT_EQ(plan_.calls("keys.CreateKey"), 1);
  EXPECT_EQ(plan_.calls("keys.GetKey"), 0);
}

// Ids from outside are quoted, cut and escaped in errors: one short line.
TEST_F(VolumeServiceTest, AHostileIdGivesOneShortErrorLine) {
  const std::string hostile = std::string(10000, 'x') + "\n\xff";
  for (const std::string& id : {hostile, std::string("a\nb"), std::string("\xff\xfe")}) {
    absl::Status s = service_->DeleteVolume(id);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_LT(s.message().size(), 200u) << s.message().substr(0, 300);
    EXPECT_EQ(s.message().find('\n'), absl::string_view::npos);
  }
}

TEST_F(VolumeServiceTest, GeneratesAnIdWhenNoneIsGiven) {
  CreateVolumeRequest r = Request("ignored");
  r.id.clear();
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  VOLCRYPT_EXPECT_OK(ValidateKeyId(v->id));
}

TEST_F(VolumeServiceTest, BadRequestsCreateNothing) {
  CreateVolumeRequest r = Request("v1");
  r.id = "../etc";
  EXPECT_THAT(service_->CreateVolume(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r = Request("v1");
  r.size_bytes = 0;
  EXPECT_THAT(service_->CreateVolume(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r = Request("v1");
  r.size_bytes = 1000;
  EXPECT_THAT(service_->CreateVolume(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r = Request("v1");
  r.encryption.format = LuksFormat::kLuks2;
  EXPECT_THAT(service_->CreateVolume(r), StatusIsWith(absl::StatusCode::kInvalidArgument, "LUKS1"));
  r = Request("v1");
  r.encryption.key_bits = 192;
  EXPECT_THAT(service_->CreateVolume(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r = Request("v1");
  r.location = VolumeLocation::Path("relative/path");
  EXPECT_THAT(service_->CreateVolume(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r = Request("v1");
  r.encryption.engine = EncryptionEngine::kLibrbd;
  EXPECT_THAT(service_->CreateVolume(r), StatusIsWith(absl::StatusCode::kInvalidArgument, "rbd"));
  r.location = VolumeLocation::Rbd("pool", "image");
  r.encryption.format = LuksFormat::kLuks2;
  r.encryption.engine = EncryptionEngine::kQemu;
  EXPECT_THAT(service_->CreateVolume(r), StatusIsWith(absl::StatusCode::kInvalidArgument, "LUKS1"));
  r.encryption.engine = EncryptionEngine::kLibrbd;
  EXPECT_THAT(service_->CreateVolume(r), StatusIsWith(absl::StatusCode::kFailedPrecondition, "rbd backend"));
  ExpectNothingLeft("v1");
}

TEST_F(VolumeServiceTest, ExistingTargetOrIdIsAlreadyExists) {
  ASSERT_TRUE(service_->CreateVolume(Request("v1")).ok());
  const std::string before = ReadFileOrDie(tmp_.File("v1"));
  EXPECT_THAT(service_->CreateVolume(Request("v1")), StatusIs(absl::StatusCode::kAlreadyExists));
  CreateVolumeRequest r = Request("v2");
  r.location = VolumeLocation::Path(tmp_.File("v1"));
  EXPECT_THAT(service_->CreateVolume(r), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadFileOrDie(tmp_.File("v1")), before);
  EXPECT_EQ(Records(), 1);
  EXPECT_EQ(KeyFiles(), 1);
}

// A failure at any step of create leaves nothing behind.
class CreateFaultTest : public VolumeServiceTest,
                        public ::testing::WithParamInterface<std::pair<const char*, int>> {};

TEST_P(CreateFaultTest, FailureAtEveryStepRollsBackEverything) {
  plan_.Inject(GetParam().first, GetParam().second, FaultPlan::Action::kFail);
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(Request("v1"));
  EXPECT_THAT(v, StatusIsWith(absl::StatusCode::kUnavailable, "injected"));
  ExpectNothingLeft("v1");
}

// A crash (the process dies, no rollback) at any step: Reconcile undoes it.
TEST_P(CreateFaultTest, CrashAtEveryStepIsUndoneByReconcile) {
  const pid_t pid = fork();
  if (pid == 0) {
    plan_.Inject(GetParam().first, GetParam().second, FaultPlan::Action::kCrash);
    (void)service_->CreateVolume(Request("v1"));
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 42) << "the crash point was not reached";
  Reopen();
  absl::StatusOr<int> acted = service_->Reconcile(/*grace_seconds=*/0);
  ASSERT_TRUE(acted.ok()) << acted.status();
  EXPECT_LE(*acted, 1);
  ExpectNothingLeft("v1");
  // And the volume can then be created for real.
  EXPECT_TRUE(service_->CreateVolume(Request("v1")).ok());
}

INSTANTIATE_TEST_SUITE_P(
    EveryStep, CreateFaultTest,
    ::testing::Values(std::make_pair("store.CreateVolume", 1),
                      std::make_pair("keys.CreateKey", 1),
                      std::make_pair("keys.AddConsumer", 1),
                      std::make_pair("store.UpdateVolume", 1),
                      std::make_pair("backend.Create", 1),
                      std::make_pair("backend.WriteLuksHeader", 1),
                      std::make_pair("store.UpdateVolume", 2)),
    [](const ::testing::TestParamInfo<std::pair<const char*, int>>& p) {
      std::string name = std::string(p.param.first) + "_" + std::to_string(p.param.second);
      for (char& c : name) if (c == '.') c = '_';
      return name;
    });

// The key manager stored the key but its answer was lost: the rollback
// finds the key by its name.
TEST_F(VolumeServiceTest, CreateWhoseKeyAnswerWasLostLeavesNoKey) {
  plan_.Inject("keys.CreateKey", 1, FaultPlan::Action::kLoseAnswer);
  EXPECT_THAT(service_->CreateVolume(Request("v1")),
              StatusIsWith(absl::StatusCode::kUnavailable, "lost answer"));
  ExpectNothingLeft("v1");
}

// ... and when the key manager cannot be asked either, the record stays
// 'creating' (the key may exist) until Reconcile can finish the job.
TEST_F(VolumeServiceTest, LostKeyAnswerWithTheKeyManagerDownIsUndoneByReconcile) {
  plan_.Inject("keys.CreateKey", 1, FaultPlan::Action::kLoseAnswer);
  plan_.Inject("keys.FindKeysByName", 1, FaultPlan::Action::kFail);
  EXPECT_THAT(service_->CreateVolume(Request("v1")),
              StatusIsWith(absl::StatusCode::kUnavailable,
                           "volume v1 stays 'creating' until Reconcile()"));
  absl::StatusOr<VolumeRecord> left = store_->GetVolume("v1");
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(left->status, VolumeStatus::kCreating);
  EXPECT_EQ(KeyFiles(), 1);
  EXPECT_EQ(*service_->Reconcile(/*grace_seconds=*/0), 1);
  ExpectNothingLeft("v1");
}

TEST_F(VolumeServiceTest, ReconcileLeavesRecentCreatesAlone) {
  VolumeRecord r;
  r.id = "busy";
  r.host = "host-a";
  r.location = VolumeLocation::Path(tmp_.File("busy"));
  r.size_bytes = kSize;
  r.status = VolumeStatus::kCreating;
  ASSERT_TRUE(store_->CreateVolume(r).ok());
  EXPECT_EQ(*service_->Reconcile(3600), 0);
  EXPECT_EQ(Records(), 1);
}

TEST_F(VolumeServiceTest, DeleteRemovesVolumeKeyAndRecord) {
  ASSERT_TRUE(service_->CreateVolume(Request("v1")).ok());
  VOLCRYPT_ASSERT_OK(service_->DeleteVolume("v1"));
  ExpectNothingLeft("v1");
  EXPECT_THAT(service_->DeleteVolume("v1"), StatusIs(absl::StatusCode::kNotFound));
}

class DeleteFaultTest : public VolumeServiceTest,
                        public ::testing::WithParamInterface<const char*> {};

TEST_P(DeleteFaultTest, FailedDeleteNeverLosesTheKeyOfExistingDataAndRerunFinishes) {
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(Request("v1"));
  ASSERT_TRUE(v.ok());
  plan_.Inject(GetParam(), plan_.calls(GetParam()) + 1, FaultPlan::Action::kFail);
  EXPECT_THAT(service_->DeleteVolume("v1"), StatusIs(absl::StatusCode::kUnavailable));
  // Promise 1: while the data exists, its key exists.
  if (Exists("v1")) {
    EXPECT_TRUE(keys_->GetKey(v->encryption_key_id).ok());
  }
  EXPECT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kDeleting);
  VOLCRYPT_ASSERT_OK(service_->DeleteVolume("v1"));
  ExpectNothingLeft("v1");
}

TEST_P(DeleteFaultTest, CrashedDeleteIsFinishedByReconcile) {
  ASSERT_TRUE(service_->CreateVolume(Request("v1")).ok());
  const pid_t pid = fork();
  if (pid == 0) {
    plan_.Inject(GetParam(), plan_.calls(GetParam()) + 1, FaultPlan::Action::kCrash);
    (void)service_->DeleteVolume("v1");
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 42);
  Reopen();
  EXPECT_EQ(*service_->Reconcile(0), 1);
  ExpectNothingLeft("v1");
}

INSTANTIATE_TEST_SUITE_P(EveryStep, DeleteFaultTest,
                         ::testing::Values("backend.Delete", "keys.DeleteKey",
                                           "store.DeleteVolume"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string name = p.param;
                           for (char& c : name) if (c == '.') c = '_';
                           return name;
                         });

TEST_F(VolumeServiceTest, DeleteRefusesAttachedOrSnapshottedVolumes) {
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(Request("v1"));
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(store_->CreateSnapshot({"s1", "v1", v->encryption_key_id, "available", 0}).ok());
  EXPECT_THAT(service_->DeleteVolume("v1"), StatusIsWith(absl::StatusCode::kFailedPrecondition, "snapshot"));
  ASSERT_TRUE(store_->DeleteSnapshot("s1").ok());
  VolumeRecord attached = *v;
  attached.status = VolumeStatus::kInUse;
  ASSERT_TRUE(store_->UpdateVolume(attached, VolumeStatus::kAvailable).ok());
  EXPECT_THAT(service_->DeleteVolume("v1"), StatusIsWith(absl::StatusCode::kFailedPrecondition, "in-use"));
  EXPECT_TRUE(Exists("v1"));
  EXPECT_EQ(KeyFiles(), 1);
}

TEST_F(VolumeServiceTest, DeleteKeepsAKeyOtherRecordsStillUse) {
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(Request("v1"));
  ASSERT_TRUE(v.ok());
  BackupRecord b{"b1", "v1", "host-a", v->encryption_key_id, "", "", "available", 0};
  ASSERT_TRUE(store_->CreateBackup(b).ok());
  VOLCRYPT_ASSERT_OK(service_->DeleteVolume("v1"));
  EXPECT_TRUE(keys_->GetKey(v->encryption_key_id).ok());
}

TEST_F(VolumeServiceTest, FixedKeyVolumesShareTheNeverDeletedKey) {
  auto fixed = NewFixedKeyManager(SecretBytes::Random(32).value(), NullLogger());
  auto service = NewService(fixed.get(), NullLogger());
  ASSERT_TRUE(service->CreateVolume(Request("a")).ok());
  ASSERT_TRUE(service->CreateVolume(Request("b")).ok());
  EXPECT_EQ(store_->GetVolume("a")->encryption_key_id, kFixedKeyId);
  VOLCRYPT_ASSERT_OK(service->DeleteVolume("a"));
  VOLCRYPT_ASSERT_OK(service->DeleteVolume("b"));
  EXPECT_TRUE(fixed->GetKey(kFixedKeyId).ok());
}

TEST_F(VolumeServiceTest, ExtendGivesExactlyTheUsableSizeAsked) {
  ASSERT_TRUE(service_->CreateVolume(Request("v1")).ok());
  absl::StatusOr<VolumeRecord> v = service_->ExtendVolume("v1", 3 * kSize);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->size_bytes, 3 * kSize);
  EXPECT_EQ(luks::Inspect(tmp_.File("v1"))->payload_bytes, 3 * kSize);
  EXPECT_THAT(service_->ExtendVolume("v1", kSize), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(service_->ExtendVolume("nope", kSize), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VolumeServiceTest, FailedExtendRestoresStatusAndSize) {
  ASSERT_TRUE(service_->CreateVolume(Request("v1")).ok());
  plan_.Inject("backend.Resize", 1, FaultPlan::Action::kFail);
  EXPECT_THAT(service_->ExtendVolume("v1", 2 * kSize), StatusIs(absl::StatusCode::kUnavailable));
  absl::StatusOr<VolumeRecord> v = store_->GetVolume("v1");
  EXPECT_EQ(v->status, VolumeStatus::kAvailable);
  EXPECT_EQ(v->size_bytes, kSize);
  EXPECT_EQ(luks::Inspect(tmp_.File("v1"))->payload_bytes, kSize);
}

// A crash between 'extending' and the new size: Reconcile gives the record
// the size the guest sees, and the volume is usable again.
TEST_F(VolumeServiceTest, CrashedExtendIsFinishedByReconcile) {
  ASSERT_TRUE(service_->CreateVolume(Request("v1")).ok());
  for (FaultPlan::Action when : {FaultPlan::Action::kCrash, FaultPlan::Action::kLoseAnswer}) {
    const uint64_t asked = store_->GetVolume("v1")->size_bytes + kSize;
    const pid_t pid = fork();
    if (pid == 0) {
      // Before the resize (old size stays), or after it (new size on disk).
      if (when == FaultPlan::Action::kCrash) {
        plan_.Inject("backend.Resize", plan_.calls("backend.Resize") + 1,
                     FaultPlan::Action::kCrash);
      } else {  // the second status update: 'available' at the new size
        plan_.Inject("store.UpdateVolume", plan_.calls("store.UpdateVolume") + 2,
                     FaultPlan::Action::kCrash);
      }
      (void)service_->ExtendVolume("v1", asked);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_EQ(WEXITSTATUS(status), 42) << "the crash point was not reached";
    Reopen();
    ASSERT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kExtending);
    EXPECT_EQ(*service_->Reconcile(0), 1);
    absl::StatusOr<VolumeRecord> v = store_->GetVolume("v1");
    EXPECT_EQ(v->status, VolumeStatus::kAvailable);
    EXPECT_EQ(v->size_bytes, luks::Inspect(tmp_.File("v1"))->payload_bytes);
    if (when != FaultPlan::Action::kCrash) {
      EXPECT_EQ(v->size_bytes, asked);
    }
    EXPECT_EQ(*service_->VerifyVolumeKey("v1"), 0);
  }
  EXPECT_TRUE(service_->ExtendVolume("v1", 4 * kSize).ok());
}

// Verify before destroying: a delete stopped after removing the file leaves
// 'deleting'; the path is refused to a new volume while that record lives,
// and whatever someone else puts there survives the rerun.
TEST_F(VolumeServiceTest, AReusedPathIsRefusedAndLeftToItsNewOwner) {
  ASSERT_TRUE(service_->CreateVolume(Request("v1")).ok());
  plan_.Inject("keys.DeleteKey", 1, FaultPlan::Action::kFail);
  EXPECT_THAT(service_->DeleteVolume("v1"), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_FALSE(Exists("v1"));
  CreateVolumeRequest again = Request("v2");
  again.location = VolumeLocation::Path(tmp_.File("v1"));
  EXPECT_THAT(service_->CreateVolume(again),
              StatusIsWith(absl::StatusCode::kAlreadyExists, "volume v1 (deleting)"));
  // Someone else's LUKS volume at the path (another tool, another store).
  const std::string theirs = ForeignLuksVolumeAt(tmp_.File("v1"));
  VOLCRYPT_ASSERT_OK(service_->DeleteVolume("v1"));
  EXPECT_THAT(store_->GetVolume("v1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(ReadFileOrDie(tmp_.File("v1")), theirs);
  EXPECT_EQ(KeyFiles(), 0);
}

// The same for a create that a crash interrupted: its undo only removes a
// location that provably is its own (here a header its key does not open).
TEST_F(VolumeServiceTest, UndoOfACrashedCreateLeavesAForeignVolumeAlone) {
  const pid_t pid = fork();
  if (pid == 0) {
    plan_.Inject("backend.WriteLuksHeader", 1, FaultPlan::Action::kCrash);
    (void)service_->CreateVolume(Request("v1"));
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 42);
  Reopen();
  ASSERT_EQ(unlink(tmp_.File("v1").c_str()), 0);
  const std::string theirs = ForeignLuksVolumeAt(tmp_.File("v1"));
  EXPECT_EQ(*service_->Reconcile(0), 1);
  EXPECT_EQ(Records(), 0);
  EXPECT_EQ(KeyFiles(), 0);
  EXPECT_EQ(ReadFileOrDie(tmp_.File("v1")), theirs);
}

// A created volume records the UUID of the header it wrote.
TEST_F(VolumeServiceTest, CreateRecordsTheHeaderItWroteAsItsProof) {
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(Request("v1"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->location_proof, "luks:" + luks::Inspect(tmp_.File("v1"))->uuid);
}

TEST_F(VolumeServiceTest, AttachPlanCarriesThePassphraseOnlyOutsideTheXml) {
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(Request("v1"));
  ASSERT_TRUE(v.ok());
  absl::StatusOr<AttachPlan> plan = service_->PlanAttach("v1", {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  SecretBytes key = *keys_->GetKey(v->encryption_key_id);
  EXPECT_TRUE(plan->passphrase.Equals(HexPassphrase(key)));
  EXPECT_EQ(plan->secret_uuid, v->encryption_key_id);
  const std::string hex(plan->passphrase.char_data(), plan->passphrase.size());
  EXPECT_EQ(plan->secret_xml.find(hex), std::string::npos);
  EXPECT_EQ(plan->disk_xml.find(hex), std::string::npos);
  EXPECT_NE(plan->disk_xml.find(tmp_.File("v1")), std::string::npos);
  EXPECT_FALSE(plan->formatted_now);
}

TEST_F(VolumeServiceTest, DeferredFormatHappensAtFirstAttachOnlyOnce) {
  CreateVolumeRequest r = Request("v1");
  r.defer_format = true;
  ASSERT_TRUE(service_->CreateVolume(r).ok());
  EXPECT_EQ(luks::ProbeContent(tmp_.File("v1"))->kind, luks::ContentKind::kNoSignature);
  absl::StatusOr<AttachPlan> first = service_->PlanAttach("v1", {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->formatted_now);
  const std::string header = ReadFileOrDie(tmp_.File("v1"));
  absl::StatusOr<AttachPlan> second = service_->PlanAttach("v1", {});
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->formatted_now);
  EXPECT_EQ(ReadFileOrDie(tmp_.File("v1")), header);
  EXPECT_EQ(*service_->VerifyVolumeKey("v1"), 0);
}

TEST_F(VolumeServiceTest, AttachPlanNeedsItsKey) {
  absl::StatusOr<VolumeRecord> v = service_->CreateVolume(Request("v1"));
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(keys_->DeleteKey(v->encryption_key_id).ok());
  EXPECT_THAT(service_->PlanAttach("v1", {}), StatusIsWith(absl::StatusCode::kNotFound, "v1"));
}

// Promise 5, for the library: no status message, log line or XML carries the
// key, the passphrase, or their encodings, on success or failure.
class CollectingLogger : public Logger {
 public:
  void Log(LogLevel, absl::string_view line) override { text += std::string(line) + "\n"; }
  std::string text;
};

TEST_F(VolumeServiceTest, NoStatusLogOrXmlHoldsTheKey) {
  CollectingLogger log;
  auto service = NewService(faulty_keys_.get(), &log);
  std::string emitted;
  auto note = [&emitted](const absl::Status& s) { emitted += s.ToString() + "\n"; };

  CreateVolumeRequest deferred = Request("v2");
  deferred.defer_format = true;
  absl::StatusOr<VolumeRecord> v1 = service->CreateVolume(Request("v1"));
  absl::StatusOr<VolumeRecord> v2 = service->CreateVolume(deferred);
  ASSERT_TRUE(v1.ok() && v2.ok());
  std::vector<SecretBytes> keys;
  keys.push_back(keys_->GetKey(v1->encryption_key_id).value());
  keys.push_back(keys_->GetKey(v2->encryption_key_id).value());
  for (const char* id : {"v1", "v2"}) {
    absl::StatusOr<AttachPlan> plan = service->PlanAttach(id, {});
    ASSERT_TRUE(plan.ok());
    emitted += plan->secret_xml + plan->disk_xml + plan->passphrase.DebugString();
  }
  plan_.Inject("backend.WriteLuksHeader", plan_.calls("backend.WriteLuksHeader") + 1,
               FaultPlan::Action::kFail);
  note(service->CreateVolume(Request("v3")).status());
  note(service->ExtendVolume("v1", 1).status());
  note(service->PlanAttach("nope", {}).status());
  note(service->CreateVolume(Request("v1")).status());
  plan_.Inject("keys.DeleteKey", plan_.calls("keys.DeleteKey") + 1, FaultPlan::Action::kFail);
  note(service->DeleteVolume("v1"));
  note(service->DeleteVolume("v1"));
  note(service->Reconcile(0).status());

  for (const SecretBytes& key : keys) {
    const SecretBytes hex = HexPassphrase(key);
    for (const std::string& text : {emitted, log.text}) {
      EXPECT_EQ(text.find(std::string(key.char_data(), key.size())), std::string::npos);
      EXPECT_EQ(text.find(std::string(hex.char_data(), hex.size())), std::string::npos);
    }
  }
  EXPECT_NE(emitted.find("[redacted 64 bytes]"), std::string::npos);
}

}  // namespace
}  // namespace volcrypt
