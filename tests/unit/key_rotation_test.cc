// VolumeService::RotateKey over real components (FileKeyManager, SQLite,
// MappedBackend on files), with cryptsetup as the independent reader, and a
// failure or a kill at every step followed by Reconcile.
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/faults.h"
#include "tests/support/faulty_file_service.h"
#include "tests/support/test_support.h"
#include "volcrypt/errors.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::FaultPlan;
using ::volcrypt::testing::FaultyBackend;
using ::volcrypt::testing::FaultyFileServiceTest;
using ::volcrypt::testing::FaultyKeyManager;
using ::volcrypt::testing::FaultyStore;
using ::volcrypt::testing::ReadFileOrDie;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::TempDir;

constexpr uint64_t kSize = 8 << 20;
constexpr uint64_t kPayload = 4 << 20;  // LUKS1's payload offset

class KeyRotationTest : public FaultyFileServiceTest {
 protected:
  // A volume whose payload holds known bytes; returns its record.
  VolumeRecord MakeVolume(const std::string& id) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(tmp_.File(id));
    r.size_bytes = kSize;
    absl::StatusOr<VolumeRecord> v = service_->CreateVolume(r);
    EXPECT_TRUE(v.ok()) << v.status();
    const int fd = open(tmp_.File(id).c_str(), O_WRONLY);
    std::string data(1 << 16, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 1);
    EXPECT_EQ(pwrite(fd, data.data(), data.size(), static_cast<off_t>(kPayload + 4096)),
              static_cast<ssize_t>(data.size()));
    close(fd);
    plan_ = FaultPlan();  // faults count the rotation's calls only
    return *v;
  }

  SecretBytes Passphrase(const std::string& key_id) {
    return HexPassphrase(keys_->GetKey(key_id).value());
  }

  // cryptsetup, not volcrypt, tells whether `pass` opens volume `id`.
  bool CryptsetupOpens(const std::string& id, const SecretBytes& pass) {
    auto r = RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file",
                         "/dev/fd/3", tmp_.File(id)}, &pass);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 2) << r.err;
    return r.exit_code == 0;
  }

  std::string Payload(const std::string& id) {
    return ReadFileOrDie(tmp_.File(id)).substr(kPayload);
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

  // What every rotation, finished, undone or interrupted and reconciled,
  // must leave: 'available', opening with its recorded key only (in
  // cryptsetup's eyes), its data unchanged, one key for the one record.
  void ExpectConsistent(const std::string& id, const std::string& payload,
                        const std::vector<std::string>& other_keys) {
    absl::StatusOr<VolumeRecord> now = store_->GetVolume(id);
    ASSERT_TRUE(now.ok()) << now.status();
    EXPECT_EQ(now->status, VolumeStatus::kAvailable);
    EXPECT_EQ(now->rekey_key_id, "");
    EXPECT_TRUE(CryptsetupOpens(id, Passphrase(now->encryption_key_id)));
    for (const std::string& k : other_keys) {
      if (k == now->encryption_key_id) continue;
      EXPECT_THAT(keys_->GetKey(k), StatusIs(absl::StatusCode::kNotFound));
    }
    EXPECT_EQ(KeyFiles(), 1);
    EXPECT_EQ(luks::Inspect(tmp_.File(id))->keyslots.size(), 1u);
    EXPECT_TRUE(Payload(id) == payload) << "the data changed";
  }
};

TEST_F(KeyRotationTest, RotationRecordsANewKeyThatAloneOpensTheUnchangedVolume) {
  const VolumeRecord before = MakeVolume("v1");
  const SecretBytes old_pass = Passphrase(before.encryption_key_id);
  const std::string payload = Payload("v1");
  absl::StatusOr<VolumeRecord> after = service_->RotateKey("v1");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(after->encryption_key_id, before.encryption_key_id);
  EXPECT_EQ(after->status, VolumeStatus::kAvailable);
  EXPECT_GE(after->key_created_at, before.key_created_at);
  EXPECT_TRUE(CryptsetupOpens("v1", Passphrase(after->encryption_key_id)));
  EXPECT_FALSE(CryptsetupOpens("v1", old_pass)) << "the old passphrase still opens";
  EXPECT_THAT(keys_->GetKey(before.encryption_key_id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(Payload("v1") == payload) << "the data changed";
  EXPECT_EQ(service_->VerifyVolumeKey("v1").status(), absl::OkStatus());
  auto info = luks::Inspect(tmp_.File("v1"));
  ASSERT_EQ(info->keyslots.size(), 1u);
  EXPECT_EQ(info->keyslots[0].pbkdf, "pbkdf2") << "machine-key KDF";
  EXPECT_EQ(info->keyslots[0].iterations, 1000u) << "machine-key KDF";
  EXPECT_EQ(KeyFiles(), 1);
}

TEST_F(KeyRotationTest, RotatingTwiceLeavesOnlyTheLatestKey) {
  const VolumeRecord v = MakeVolume("v1");
  const std::string payload = Payload("v1");
  const std::string k2 = service_->RotateKey("v1")->encryption_key_id;
  const std::string k3 = service_->RotateKey("v1")->encryption_key_id;
  EXPECT_NE(k2, k3);
  ExpectConsistent("v1", payload, {v.encryption_key_id, k2});
}

TEST_F(KeyRotationTest, AKeyMadeAfterTheCutoffIsNotRotatedAgain) {
  const VolumeRecord v = MakeVolume("v1");
  EXPECT_THAT(service_->RotateKey("v1", v.key_created_at),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ErrnoOf(service_->RotateKey("v1", v.key_created_at).status()), EALREADY);
  EXPECT_EQ(store_->GetVolume("v1")->encryption_key_id, v.encryption_key_id);
  EXPECT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kAvailable);
  EXPECT_TRUE(service_->RotateKey("v1", v.key_created_at + 1).ok());
}

TEST_F(KeyRotationTest, OnlyAvailableVolumesAreRotatedAndHostileIdsRefused) {
  MakeVolume("v1");
  VolumeRecord r = store_->GetVolume("v1").value();
  r.status = VolumeStatus::kExtending;
  ASSERT_TRUE(store_->UpdateVolume(r, VolumeStatus::kAvailable).ok());
  EXPECT_EQ(ErrnoOf(service_->RotateKey("v1").status()), EBUSY);
  EXPECT_THAT(service_->RotateKey("nope"), StatusIs(absl::StatusCode::kNotFound));
  absl::Status bad = service_->RotateKey(std::string(4000, 'x') + "\n").status();
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_LT(bad.message().size(), 200u);
  EXPECT_EQ(bad.message().find('\n'), absl::string_view::npos);
}

TEST_F(KeyRotationTest, AHeaderTheRecordedKeyDoesNotOpenIsLeftAlone) {
  const VolumeRecord v = MakeVolume("v1");
  // Someone else's LUKS volume now sits where the record points.
  ASSERT_EQ(unlink(tmp_.File("v1").c_str()), 0);
  testing::MakeSparseFile(tmp_.File("v1"), 2 * kSize);
  const SecretBytes theirs = HexPassphrase(SecretBytes::Random(32).value());
  ASSERT_TRUE(luks::FormatPath(tmp_.File("v1"), EncryptionSpec(), theirs, {}).ok());
  const std::string bytes = ReadFileOrDie(tmp_.File("v1"));
  EXPECT_THAT(service_->RotateKey("v1"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(ReadFileOrDie(tmp_.File("v1")) == bytes) << "a foreign header was written";
  EXPECT_EQ(store_->GetVolume("v1")->encryption_key_id, v.encryption_key_id);
  EXPECT_EQ(KeyFiles(), 1) << "the new key was not removed";
  EXPECT_TRUE(keys_->GetKey(v.encryption_key_id).ok()) << "the recorded key was removed";
  // Not this record's header: an operator decides.
  EXPECT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kError);
}

TEST_F(KeyRotationTest, AFixedKeyManagerHasNoNewKeyToRotateTo) {
  const SecretBytes fixed = SecretBytes::Random(32).value();
  auto fixed_keys = NewFixedKeyManager(fixed.Clone(), NullLogger());
  VolumeServiceOptions o;
  o.keys = fixed_keys.get();
  o.store = store_.get();
  o.mapped = backend_.get();
  o.host = "host-a";
  o.logger = NullLogger();
  auto service = std::move(VolumeService::Create(o).value());
  CreateVolumeRequest r;
  r.id = "f1";
  r.location = VolumeLocation::Path(tmp_.File("f1"));
  r.size_bytes = kSize;
  ASSERT_TRUE(service->CreateVolume(r).ok());
  EXPECT_THAT(service->RotateKey("f1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_->GetVolume("f1")->status, VolumeStatus::kAvailable);
  EXPECT_TRUE(CryptsetupOpens("f1", HexPassphrase(fixed)));
}

// Every call a rotation makes that can fail, in order.
const std::pair<const char*, int> kSteps[] = {
    {"store.BeginKeyRotation", 1}, {"keys.GetKey", 1},
    {"keys.CreateKey", 1},         {"keys.AddConsumer", 1},
    {"store.SetRotationKey", 1},   {"backend.WriteLuksHeader", 1},
    {"store.SwapRotationKey", 1},  {"keys.GetKey", 2},
    {"keys.GetKey", 3},            {"backend.WriteLuksHeader", 2},
    {"keys.DeleteKey", 1},         {"store.EndKeyRotation", 1},
};

std::string StepName(const ::testing::TestParamInfo<std::pair<const char*, int>>& p) {
  std::string name = std::string(p.param.first) + "_" + std::to_string(p.param.second);
  for (char& c : name) if (c == '.') c = '_';
  return name;
}

class RotationFaultTest : public KeyRotationTest,
                          public ::testing::WithParamInterface<std::pair<const char*, int>> {};

TEST_P(RotationFaultTest, AFailureAtEveryStepLeavesOneWorkingKey) {
  const VolumeRecord v = MakeVolume("v1");
  const std::string payload = Payload("v1");
  plan_.Inject(GetParam().first, GetParam().second, FaultPlan::Action::kFail);
  absl::StatusOr<VolumeRecord> r = service_->RotateKey("v1");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kUnavailable));
  // The failing component may have been the one the undo needed too: then
  // the record says so ('rekeying') and Reconcile finishes.
  if (store_->GetVolume("v1")->status == VolumeStatus::kRekeying) {
    Reopen();
    ASSERT_EQ(service_->Reconcile(0).status(), absl::OkStatus());
  }
  ExpectConsistent("v1", payload, {v.encryption_key_id});
  EXPECT_TRUE(service_->RotateKey("v1").ok()) << "and it can be rotated afterwards";
}

TEST_P(RotationFaultTest, AKillAtEveryStepIsFinishedOrUndoneByReconcile) {
  const VolumeRecord v = MakeVolume("v1");
  const std::string payload = Payload("v1");
  std::string made;  // the new key's id, if the child recorded it
  const pid_t pid = fork();
  if (pid == 0) {
    plan_.Inject(GetParam().first, GetParam().second, FaultPlan::Action::kCrash);
    (void)service_->RotateKey("v1");
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 42) << "the crash point was not reached";
  Reopen();
  const VolumeRecord left = store_->GetVolume("v1").value();
  if (GetParam().first != std::string("store.BeginKeyRotation")) {
    EXPECT_EQ(left.status, VolumeStatus::kRekeying);
  }
  // The header opens with the recorded key at every instant, even before
  // Reconcile.
  EXPECT_TRUE(CryptsetupOpens("v1", Passphrase(left.encryption_key_id)));
  absl::StatusOr<int> acted = service_->Reconcile(/*grace_seconds=*/0);
  ASSERT_TRUE(acted.ok()) << acted.status();
  std::vector<std::string> others = {v.encryption_key_id};
  if (!left.rekey_key_id.empty()) others.push_back(left.rekey_key_id);
  ExpectConsistent("v1", payload, others);
  EXPECT_EQ(service_->Reconcile(0).value(), 0) << "a second Reconcile has nothing to do";
}

INSTANTIATE_TEST_SUITE_P(EveryStep, RotationFaultTest, ::testing::ValuesIn(kSteps), StepName);

TEST_F(KeyRotationTest, ReconcileLeavesARecentRotationAlone) {
  MakeVolume("v1");
  ASSERT_TRUE(store_->BeginKeyRotation("v1", VolumeStatus::kAvailable, INT64_MAX).ok());
  EXPECT_EQ(service_->Reconcile(/*grace_seconds=*/3600).value(), 0);
  EXPECT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kRekeying);
  EXPECT_EQ(service_->Reconcile(0).value(), 1);
  EXPECT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kAvailable);
}

TEST_F(KeyRotationTest, AKeyABackupStillNamesIsKept) {
  const VolumeRecord v = MakeVolume("v1");
  BackupRecord b;
  b.id = "b1";
  b.volume_id = "v1";
  b.host = "host-a";
  b.encryption_key_id = v.encryption_key_id;
  ASSERT_TRUE(store_->CreateBackup(b).ok());
  const std::string fresh = service_->RotateKey("v1")->encryption_key_id;
  EXPECT_TRUE(keys_->GetKey(v.encryption_key_id).ok()) << "the backup's key was deleted";
  EXPECT_FALSE(CryptsetupOpens("v1", Passphrase(v.encryption_key_id)));
  EXPECT_TRUE(CryptsetupOpens("v1", Passphrase(fresh)));
}

}  // namespace
}  // namespace volcrypt
