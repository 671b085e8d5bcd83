// ManageVolume and UnmanageVolume over real components (FileKeyManager,
// SQLite, MappedBackend on files): volumes someone else formatted are taken
// over without a byte written, bad input records and stores nothing, and a
// failure or a kill at every step of a manage that stores a key is undone
// without touching the volume.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <gtest/gtest.h>

#include "tests/support/faults.h"
#include "tests/support/faulty_file_service.h"
#include "tests/support/test_support.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/size_rule.h"
#include "volcrypt/volume_service.h"

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

constexpr uint64_t kRaw = 32 << 20;
constexpr char kPassphrase[] = "correct horse battery staple, 2019";

SecretBytes Bytes(const std::string& s) { return SecretBytes::CopyOf(s.data(), s.size()); }
std::string Text(const SecretBytes& b) { return std::string(b.char_data(), b.size()); }

class ManageTest : public FaultyFileServiceTest {
 protected:
  // A file of kRaw bytes that someone else LUKS-formatted with `passphrase`.
  std::string ForeignVolume(const std::string& name, const SecretBytes& passphrase,
                            LuksFormat format = LuksFormat::kLuks1) {
    const std::string path = tmp_.File(name);
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(kRaw)), 0);
    close(fd);
    EncryptionSpec spec;
    spec.format = format;
    VOLCRYPT_EXPECT_OK(luks::FormatPath(path, spec, passphrase, {}));
    return path;
  }

  // A key already in the key manager (as cinder's Barbican secret is).
  NewKey ExistingKey() {
    KeyRequest r;
    r.bits = 256;
    r.name = "cinder-volume-key";
    return std::move(keys_->CreateKey(r).value());
  }

  ManageVolumeRequest Request(const std::string& id, const std::string& path) {
    ManageVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(path);
    return r;
  }

  ManageVolumeRequest PassphraseRequest(const std::string& id, const std::string& path) {
    ManageVolumeRequest r = Request(id, path);
    r.key_kind = ManagedKeyKind::kPassphrase;
    r.secret = Bytes(kPassphrase);
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
  int Records() { return static_cast<int>(store_->ListVolumes({})->size()); }
};

TEST_F(ManageTest, ManagesAVolumeWithAnExistingKeyIdAndWritesNothingToIt) {
  NewKey key = ExistingKey();
  const std::string path = ForeignVolume("cinder-vol", HexPassphrase(key.bytes));
  const std::string before = ReadFileOrDie(path);
  ManageVolumeRequest r = Request("v1", path);
  r.key_id = key.id;
  absl::StatusOr<VolumeRecord> v = service_->ManageVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->status, VolumeStatus::kAvailable);
  EXPECT_EQ(v->encryption_key_id, key.id);
  EXPECT_EQ(v->key_format, KeyFormat::kHex);
  EXPECT_EQ(v->size_bytes, kRaw - kLuks1PayloadOffsetBytes);
  EXPECT_EQ(v->location_proof, "luks:" + luks::Inspect(path)->uuid);
  EXPECT_EQ(ReadFileOrDie(path), before);
  EXPECT_EQ(*service_->VerifyVolumeKey("v1"), 0);
  EXPECT_EQ(KeyFiles(), 1);  // nothing stored
  absl::StatusOr<AttachPlan> plan = service_->PlanAttach("v1", {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->formatted_now);
  EXPECT_EQ(ReadFileOrDie(path), before);
}

TEST_F(ManageTest, KeyBytesAreStoredAsANewKeyNamedForTheVolume) {
  SecretBytes key = SecretBytes::Random(32).value();
  const std::string path = ForeignVolume("by-hand", HexPassphrase(key));
  ManageVolumeRequest r = Request("v1", path);
  r.key_kind = ManagedKeyKind::kKeyBytes;
  r.secret = key.Clone();
  absl::StatusOr<VolumeRecord> v = service_->ManageVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*keys_->FindKeysByName(KeyNameForVolume("v1")),
            std::vector<std::string>{v->encryption_key_id});
  EXPECT_EQ(Text(*keys_->GetKey(v->encryption_key_id)), Text(key));
  EXPECT_EQ(v->key_format, KeyFormat::kHex);
  EXPECT_EQ(*service_->VerifyVolumeKey("v1"), 0);
}

// A passphrase a person chose is stored as it is and never hexed: every
// consumer (verify, the passphrase pipe, the attach plan's secret value)
// hands QEMU and cryptsetup the passphrase itself, also after a reopen.
TEST_F(ManageTest, APassphraseIsStoredAsItIsAndNeverHexed) {
  const std::string path = ForeignVolume("by-hand", Bytes(kPassphrase));
  ASSERT_TRUE(service_->ManageVolume(PassphraseRequest("v1", path)).ok());
  Reopen();
  absl::StatusOr<VolumeRecord> v = store_->GetVolume("v1");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->key_format, KeyFormat::kPassphrase);
  EXPECT_EQ(v->encryption.kdf, KdfPolicy::kPassphrase);
  EXPECT_EQ(*service_->VerifyVolumeKey("v1"), 0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  VOLCRYPT_ASSERT_OK(service_->WritePassphrase("v1", fds[1]));
  close(fds[1]);
  char buf[128] = {};
  const ssize_t n = read(fds[0], buf, sizeof(buf));
  close(fds[0]);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), kPassphrase);
  absl::StatusOr<AttachPlan> plan = service_->PlanAttach("v1", {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Text(plan->passphrase), kPassphrase);
}

// cinder's delete removes the volume and its key: a managed volume deletes
// like one volcrypt created (the header UUID proves the location).
TEST_F(ManageTest, DeletingAManagedVolumeRemovesItsBackingAndStoredKey) {
  const std::string path = ForeignVolume("by-hand", Bytes(kPassphrase));
  ASSERT_TRUE(service_->ManageVolume(PassphraseRequest("v1", path)).ok());
  VOLCRYPT_ASSERT_OK(service_->DeleteVolume("v1"));
  EXPECT_NE(access(path.c_str(), F_OK), 0);
  EXPECT_EQ(KeyFiles(), 0);
  EXPECT_EQ(Records(), 0);
}

TEST_F(ManageTest, UnmanageLeavesTheVolumeAndTheKeyInPlace) {
  NewKey key = ExistingKey();
  const std::string path = ForeignVolume("cinder-vol", HexPassphrase(key.bytes));
  const std::string before = ReadFileOrDie(path);
  ManageVolumeRequest r = Request("v1", path);
  r.key_id = key.id;
  ASSERT_TRUE(service_->ManageVolume(r).ok());
  VOLCRYPT_ASSERT_OK(service_->UnmanageVolume("v1"));
  EXPECT_EQ(Records(), 0);
  EXPECT_EQ(ReadFileOrDie(path), before);
  EXPECT_TRUE(keys_->GetKey(key.id).ok());
  EXPECT_THAT(service_->UnmanageVolume("v1"), StatusIs(absl::StatusCode::kNotFound));
  // And it can be managed again.
  EXPECT_TRUE(service_->ManageVolume(r).ok());
}

// An unmanaged volume's key keeps its name, "volcrypt-volume-<id>". A later
// create of that id whose key answer is lost undoes by name: it must take
// only its own key, never the one the unmanaged volume still opens with
// (the store remembers it as released).
TEST_F(ManageTest, ACreateUndoneByNameAfterAnUnmanageLeavesTheReleasedKey) {
  CreateVolumeRequest made;
  made.id = "v1";
  made.location = VolumeLocation::Path(tmp_.File("made"));
  made.size_bytes = 16 << 20;
  absl::StatusOr<VolumeRecord> first = service_->CreateVolume(made);
  ASSERT_TRUE(first.ok()) << first.status();
  VOLCRYPT_ASSERT_OK(service_->UnmanageVolume("v1"));
  EXPECT_EQ(store_->CountKeyReferences(first->encryption_key_id).value(), 1);

  made.location = VolumeLocation::Path(tmp_.File("again"));
  plan_ = FaultPlan();
  plan_.Inject("keys.CreateKey", 1, FaultPlan::Action::kLoseAnswer);
  EXPECT_THAT(service_->CreateVolume(made), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Records(), 0);
  EXPECT_EQ(KeyFiles(), 1);  // the lost one went, the released one stayed
  absl::StatusOr<SecretBytes> kept = keys_->GetKey(first->encryption_key_id);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(luks::VerifyPassphrase(tmp_.File("made"), HexPassphrase(*kept)).value(), 0);

  // A crash instead of a lost answer: Reconcile's undo keeps it too.
  const pid_t pid = fork();
  if (pid == 0) {
    plan_ = FaultPlan();
    plan_.Inject("store.UpdateVolume", 1, FaultPlan::Action::kCrash);
    (void)service_->CreateVolume(made);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Reopen();
  VOLCRYPT_ASSERT_OK(service_->Reconcile(0).status());
  EXPECT_EQ(Records(), 0);
  EXPECT_EQ(KeyFiles(), 1);
  EXPECT_TRUE(keys_->GetKey(first->encryption_key_id).ok());
}

TEST_F(ManageTest, UnmanageRefusesWhileAttachedOrWithSnapshots) {
  NewKey key = ExistingKey();
  ManageVolumeRequest r = Request("v1", ForeignVolume("a", HexPassphrase(key.bytes)));
  r.key_id = key.id;
  ASSERT_TRUE(service_->ManageVolume(r).ok());
  VolumeRecord v = *store_->GetVolume("v1");
  v.status = VolumeStatus::kInUse;
  VOLCRYPT_ASSERT_OK(store_->UpdateVolume(v, VolumeStatus::kAvailable));
  VOLCRYPT_ASSERT_OK(store_->CreateAttachment({"v1", "host-a", "vm", "sdb", true, false,
                                               "attached", 0, ""}));
  EXPECT_THAT(service_->UnmanageVolume("v1"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "in-use"));
  VOLCRYPT_ASSERT_OK(store_->DeleteAttachment("v1"));
  v = *store_->GetVolume("v1");
  v.status = VolumeStatus::kAvailable;
  VOLCRYPT_ASSERT_OK(store_->UpdateVolume(v, VolumeStatus::kInUse));
  SnapshotRecord snap;
  snap.id = "s1";
  snap.volume_id = "v1";
  VOLCRYPT_ASSERT_OK(store_->CreateSnapshot(snap));
  EXPECT_THAT(service_->UnmanageVolume("v1"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "snapshot"));
  EXPECT_EQ(Records(), 1);
}

TEST_F(ManageTest, APlainVolumeIsRecordedUnencryptedAndNeverAttachedWithEncryption) {
  const std::string path = tmp_.File("plain");
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kRaw)), 0);
  close(fd);
  ManageVolumeRequest r = Request("p1", path);
  r.key_kind = ManagedKeyKind::kNone;
  absl::StatusOr<VolumeRecord> v = service_->ManageVolume(r);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->encrypted);
  EXPECT_EQ(v->size_bytes, kRaw);
  EXPECT_EQ(v->encryption_key_id, "");
  EXPECT_THAT(service_->PlanAttach("p1", {}),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "not encrypted"));
  EXPECT_EQ(ReadFileOrDie(path), std::string(kRaw, '\0'));  // never formatted
}

// A plain volume has no header UUID to prove its location by: delete
// removes a blank one, and leaves one holding a file system (someone's
// data) in place.
TEST_F(ManageTest, DeletingAPlainVolumeLeavesAFileSystemInPlace) {
  const std::string fs = tmp_.File("fs");
  const int fd = open(fs.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kRaw)), 0);
  close(fd);
  ASSERT_EQ(::volcrypt::testing::RunCommand({"mkfs.ext4", "-q", "-F", fs}).exit_code, 0);
  ManageVolumeRequest r = Request("p1", fs);
  r.key_kind = ManagedKeyKind::kNone;
  ASSERT_TRUE(service_->ManageVolume(r).ok());
  VOLCRYPT_ASSERT_OK(service_->DeleteVolume("p1"));
  EXPECT_EQ(access(fs.c_str(), F_OK), 0);
  EXPECT_EQ(Records(), 0);
}

// Bad input: one short line, nothing recorded, no key stored, the volume
// untouched.
class ManageRefusalTest : public ManageTest {
 protected:
  void ExpectRefused(const ManageVolumeRequest& r, absl::StatusCode code,
                     const std::string& words, int records = 0) {
    const std::string before = ReadFileOrDie(r.location.path);
    const int keys = KeyFiles();
    absl::StatusOr<VolumeRecord> v = service_->ManageVolume(r);
    EXPECT_THAT(v, StatusIsWith(code, words));
    if (!v.ok()) {
      EXPECT_LT(v.status().message().size(), 300u) << v.status().message();
      EXPECT_EQ(v.status().message().find('\n'), absl::string_view::npos);
    }
    EXPECT_EQ(Records(), records);
    EXPECT_EQ(KeyFiles(), keys);
    EXPECT_EQ(ReadFileOrDie(r.location.path), before);
  }
};

TEST_F(ManageRefusalTest, AWrongKey) {
  ManageVolumeRequest r = PassphraseRequest("v1", ForeignVolume("a", Bytes(kPassphrase)));
  r.secret = Bytes("not the passphrase of this one");
  ExpectRefused(r, absl::StatusCode::kPermissionDenied, "opens no keyslot");
  r.key_kind = ManagedKeyKind::kKeyBytes;
  r.secret = SecretBytes::Random(32).value();
  ExpectRefused(r, absl::StatusCode::kPermissionDenied, "opens no keyslot");
  r.key_kind = ManagedKeyKind::kKeyId;
  r.key_id = ExistingKey().id;
  ExpectRefused(r, absl::StatusCode::kPermissionDenied, "opens no keyslot");
  r.key_id = "3d5b2f8e-0000-4000-8000-000000000000";
  ExpectRefused(r, absl::StatusCode::kNotFound, "key");
}

TEST_F(ManageRefusalTest, ATruncatedHeader) {
  const std::string path = ForeignVolume("a", Bytes(kPassphrase));
  ASSERT_EQ(truncate(path.c_str(), 64 << 10), 0);
  ExpectRefused(PassphraseRequest("v1", path), absl::StatusCode::kInvalidArgument,
                "truncated");
}

TEST_F(ManageRefusalTest, AHeaderUuidThatIsNotUtf8) {
  const std::string path = ForeignVolume("a", Bytes(kPassphrase));
  const int fd = open(path.c_str(), O_WRONLY);
  const char bad[] = "\xff\xfe\xc3\x28-not-utf8\x1b[31m";
  ASSERT_EQ(pwrite(fd, bad, sizeof(bad), 168), static_cast<ssize_t>(sizeof(bad)));  // LUKS1 uuid
  close(fd);
  ExpectRefused(PassphraseRequest("v1", path), absl::StatusCode::kInvalidArgument, "UUID");
}

TEST_F(ManageRefusalTest, ALocationAlreadyManaged) {
  const std::string path = ForeignVolume("a", Bytes(kPassphrase));
  ASSERT_TRUE(service_->ManageVolume(PassphraseRequest("v1", path)).ok());
  ExpectRefused(PassphraseRequest("v2", path), absl::StatusCode::kAlreadyExists,
                "recorded for volume v1", /*records=*/1);
  // And an id already taken.
  ExpectRefused(PassphraseRequest("v1", ForeignVolume("b", Bytes(kPassphrase))),
                absl::StatusCode::kAlreadyExists, "already exists", 1);
}

TEST_F(ManageRefusalTest, Luks2WithTheQemuEngine) {
  const std::string path = ForeignVolume("a", Bytes(kPassphrase), LuksFormat::kLuks2);
  ExpectRefused(PassphraseRequest("v1", path), absl::StatusCode::kInvalidArgument,
                "cannot be attached");
}

TEST_F(ManageRefusalTest, ASizeThatDoesNotMatch) {
  ManageVolumeRequest r = PassphraseRequest("v1", ForeignVolume("a", Bytes(kPassphrase)));
  r.size_bytes = kRaw;  // the raw size, not what the guest sees
  ExpectRefused(r, absl::StatusCode::kInvalidArgument, "usable bytes");
}

TEST_F(ManageRefusalTest, PlainOrLuksMismatches) {
  ManageVolumeRequest r = Request("v1", ForeignVolume("a", Bytes(kPassphrase)));
  r.key_kind = ManagedKeyKind::kNone;
  ExpectRefused(r, absl::StatusCode::kFailedPrecondition, "holds a LUKS header");
  const std::string plain = tmp_.File("plain");
  close(open(plain.c_str(), O_CREAT | O_WRONLY, 0600));
  ASSERT_EQ(truncate(plain.c_str(), kRaw), 0);
  ExpectRefused(PassphraseRequest("v1", plain), absl::StatusCode::kFailedPrecondition,
                "no LUKS header");
}

// An unmanaged volume's key keeps its name; a manage that would store
// another key under it is refused, so that the undo, which finds keys by
// that name, can never take the old one.
TEST_F(ManageRefusalTest, AnIdWhoseNameAKeyAlreadyCarries) {
  const std::string path = ForeignVolume("a", Bytes(kPassphrase));
  ASSERT_TRUE(service_->ManageVolume(PassphraseRequest("v1", path)).ok());
  VOLCRYPT_ASSERT_OK(service_->UnmanageVolume("v1"));
  ExpectRefused(PassphraseRequest("v1", path), absl::StatusCode::kAlreadyExists,
                "already exists");
  EXPECT_EQ(KeyFiles(), 1);
}

// A failure, a lost answer or a kill at every step of a manage that stores
// its key: the key and the record go, the volume stays byte for byte.
class ManageFaultTest : public ManageTest,
                        public ::testing::WithParamInterface<std::pair<const char*, int>> {};

TEST_P(ManageFaultTest, FailureAtEveryStepLeavesNothingButTheVolume) {
  // A key manager may act on a request whose answer is lost (the wrappers
  // give lost answers for StoreKey).
  std::vector<FaultPlan::Action> actions = {FaultPlan::Action::kFail};
  if (std::string(GetParam().first) == "keys.StoreKey") {
    actions.push_back(FaultPlan::Action::kLoseAnswer);
  }
  for (FaultPlan::Action action : actions) {
    const std::string path = ForeignVolume(action == FaultPlan::Action::kFail ? "a" : "b",
                                           Bytes(kPassphrase));
    const std::string before = ReadFileOrDie(path);
    SCOPED_TRACE(action == FaultPlan::Action::kFail ? "failure" : "lost answer");
    plan_ = FaultPlan();
    plan_.Inject(GetParam().first, GetParam().second, action);
    EXPECT_THAT(service_->ManageVolume(PassphraseRequest("v1", path)),
                StatusIs(absl::StatusCode::kUnavailable));
    EXPECT_EQ(Records(), 0);
    EXPECT_EQ(KeyFiles(), 0);
    EXPECT_EQ(ReadFileOrDie(path), before);
  }
}

TEST_P(ManageFaultTest, AKillAtEveryStepIsUndoneByReconcileWithoutTouchingTheVolume) {
  const std::string path = ForeignVolume("a", Bytes(kPassphrase));
  const std::string before = ReadFileOrDie(path);
  const pid_t pid = fork();
  if (pid == 0) {
    plan_.Inject(GetParam().first, GetParam().second, FaultPlan::Action::kCrash);
    (void)service_->ManageVolume(PassphraseRequest("v1", path));
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 42) << "the crash point was not reached";
  Reopen();
  absl::StatusOr<int> acted = service_->Reconcile(/*grace_seconds=*/0);
  ASSERT_TRUE(acted.ok()) << acted.status();
  EXPECT_EQ(Records(), 0);
  EXPECT_EQ(KeyFiles(), 0);
  EXPECT_EQ(ReadFileOrDie(path), before);
  // And it can then be managed for real.
  EXPECT_TRUE(service_->ManageVolume(PassphraseRequest("v1", path)).ok());
}

INSTANTIATE_TEST_SUITE_P(
    EveryStep, ManageFaultTest,
    ::testing::Values(std::make_pair("store.CreateVolume", 1),
                      std::make_pair("keys.StoreKey", 1),
                      std::make_pair("keys.AddConsumer", 1),
                      std::make_pair("store.UpdateVolume", 1),
                      std::make_pair("store.UpdateVolume", 2)),
    [](const ::testing::TestParamInfo<std::pair<const char*, int>>& p) {
      std::string name = p.param.first;
      for (char& c : name) if (c == '.') c = '_';
      return name + "_" + std::to_string(p.param.second);
    });

// A 'managing' record younger than the grace period belongs to a manage
// that may still be running: Reconcile leaves it and its key alone.
TEST_F(ManageTest, ReconcileLeavesAManageInProgressAlone) {
  const std::string path = ForeignVolume("a", Bytes(kPassphrase));
  const pid_t pid = fork();
  if (pid == 0) {
    plan_.Inject("store.UpdateVolume", 2, FaultPlan::Action::kCrash);
    (void)service_->ManageVolume(PassphraseRequest("v1", path));
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 42);
  Reopen();
  EXPECT_EQ(*service_->Reconcile(/*grace_seconds=*/3600), 0);
  EXPECT_EQ(store_->GetVolume("v1")->status, VolumeStatus::kManaging);
  EXPECT_EQ(KeyFiles(), 1);
}

}  // namespace
}  // namespace volcrypt
