// Real attach and detach: a private libvirtd, a paused KVM domain, QEMU's
// own LUKS driver decrypting volumes that VolumeService created.
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/faults.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/volume_service.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/fixed_key_manager.h"
#include "volcrypt/key_migration.h"
#include "volcrypt/luks.h"
#include "volcrypt/mapped_backend.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::FaultPlan;
using ::volcrypt::testing::FaultyStore;
using ::volcrypt::testing::LibvirtProbe;
using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;
using ::volcrypt::testing::StatusIsWith;
using ::volcrypt::testing::TempDir;

::testing::Environment* const kTestbed =
    ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

constexpr uint64_t kSize = 32 << 20;
constexpr char kDomain[] = "volcrypt-test";

int OpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

class AttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (LibvirtTestbed::uri().empty()) GTEST_SKIP() << LibvirtTestbed::skip_reason();
    keys_ = std::move(NewFileKeyManager(tmp_.File("keys"), SecretBytes::Random(32).value(),
                                        NullLogger()).value());
    store_ = std::move(OpenSqliteVolumeStore(tmp_.File("volumes.db")).value());
    faulty_store_ = std::make_unique<FaultyStore>(store_.get(), &faults_);
    mapped_ = NewMappedBackend();
    attacher_ = std::move(Attacher::Connect(LibvirtTestbed::uri()).value());
    service_ = ServiceOver(keys_.get(), faulty_store_.get());
    probe_.DefineDomain(kDomain, /*start=*/true);
  }

  // A service on host-a with the test's backend and libvirt connection.
  std::unique_ptr<VolumeService> ServiceOver(KeyManager* keys, VolumeStore* store) {
    VolumeServiceOptions o;
    o.keys = keys;
    o.store = store;
    o.mapped = mapped_.get();
    o.attacher = attacher_.get();
    o.host = "host-a";
    o.logger = NullLogger();
    return std::move(VolumeService::Create(o).value());
  }

  void TearDown() override {
    if (LibvirtTestbed::uri().empty()) return;
    probe_.DestroyAndUndefine(kDomain);
    EXPECT_EQ(probe_.SecretCount(), 0) << "a test left a libvirt secret behind";
  }

  VolumeRecord Create(const std::string& id) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(tmp_.File(id));
    r.size_bytes = kSize;
    absl::StatusOr<VolumeRecord> v = service_->CreateVolume(r);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : VolumeRecord();
  }

  static AttachTarget Live() {
    AttachTarget t;
    t.domain = kDomain;
    return t;
  }

  // Nothing of an attach is left: no disk live or in config, no secret, no
  // attachment, the volume available.
  void ExpectNotAttached(const VolumeRecord& v) {
    EXPECT_EQ(probe_.DomainXml(kDomain, false).find(v.location.path), std::string::npos);
    EXPECT_EQ(probe_.DomainXml(kDomain, true).find(v.location.path), std::string::npos);
    EXPECT_FALSE(probe_.SecretExists(v.encryption_key_id));
    EXPECT_THAT(store_->GetAttachment(v.id), StatusIs(absl::StatusCode::kNotFound));
    EXPECT_EQ(store_->GetVolume(v.id)->status, VolumeStatus::kAvailable);
  }

  // QEMU's qemu-io, outside libvirt, with the key manager's passphrase.
  std::string QemuIo(const VolumeRecord& v, const std::string& cmd) {
    SecretBytes pass = HexPassphrase(keys_->GetKey(v.encryption_key_id).value());
    auto r = RunCommand({"qemu-io", "--object", "secret,id=s0,file=/dev/fd/3",
                         "--image-opts",
                         "driver=luks,key-secret=s0,file.driver=file,file.filename=" +
                             v.location.path,
                         "-c", cmd},
                        &pass);
    return r.out + r.err;
  }

  TempDir tmp_;
  FaultPlan faults_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<VolumeStore> store_;
  std::unique_ptr<FaultyStore> faulty_store_;
  std::unique_ptr<BlockBackend> mapped_;
  std::unique_ptr<Attacher> attacher_;
  std::unique_ptr<VolumeService> service_;
  LibvirtProbe probe_;
};

TEST_F(AttachTest, LiveAttachIsDecryptedByQemuAndDetachRemovesTheSecret) {
  VolumeRecord v = Create("live-1");
  absl::StatusOr<VolumeRecord> attached = service_->AttachVolume(v.id, Live(), {});
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(attached->status, VolumeStatus::kInUse);
  EXPECT_TRUE(probe_.SecretExists(v.encryption_key_id));

  // QEMU opened it through its LUKS driver, at exactly the usable size.
  const std::string block = probe_.Hmp(kDomain, "info block");
  EXPECT_NE(block.find("\"driver\": \"luks\""), std::string::npos) << block;
  EXPECT_NE(block.find("(luks, encrypted)"), std::string::npos) << block;
  EXPECT_EQ(probe_.Capacity(kDomain, "sdb"), kSize);

  // Data written through the guest's QEMU...
  const std::string wrote = probe_.Hmp(kDomain, "qemu-io -d scsi0-0-0-1 \"write -P 0xc3 0 1M\"");
  EXPECT_EQ(wrote.find("rror"), std::string::npos) << wrote;

  absl::StatusOr<VolumeRecord> detached = service_->DetachVolume(v.id);
  ASSERT_TRUE(detached.ok()) << detached.status();
  ExpectNotAttached(v);

  // ...reads back through an independent QEMU after detach.
  const std::string read = QemuIo(v, "read -P 0xc3 0 1M");
  EXPECT_NE(read.find("read 1048576/1048576"), std::string::npos) << read;
  EXPECT_EQ(read.find("Pattern verification failed"), std::string::npos) << read;
}

TEST_F(AttachTest, ColdAttachThenStart) {
  VolumeRecord v = Create("cold-1");
  probe_.DestroyAndUndefine(kDomain);
  probe_.DefineDomain(kDomain, /*start=*/false);
  AttachTarget config;
  config.domain = kDomain;
  config.live = false;
  config.config = true;
  ASSERT_TRUE(service_->AttachVolume(v.id, config, {}).ok());
  EXPECT_NE(probe_.DomainXml(kDomain, true).find(v.location.path), std::string::npos);
  probe_.StartPaused(kDomain);
  EXPECT_NE(probe_.Hmp(kDomain, "info block").find("(luks, encrypted)"), std::string::npos);
  EXPECT_EQ(probe_.Capacity(kDomain, "sdb"), kSize);
  probe_.DestroyAndUndefine(kDomain);  // the guest goes away with its disk
  probe_.DefineDomain(kDomain, false);
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  ExpectNotAttached(v);
}

TEST_F(AttachTest, WrongKeyInTheSecretFailsWithQemusErrorAndLeavesNothing) {
  VolumeRecord v = Create("wrong-key");
  // The header no longer opens with the key manager's key.
  SecretBytes pass = HexPassphrase(keys_->GetKey(v.encryption_key_id).value());
  ASSERT_TRUE(luks::ChangePassphrase(v.location.path, pass,
                                     HexPassphrase(SecretBytes::Random(32).value()),
                                     KdfPolicy::kMachineKey).ok());
  absl::StatusOr<VolumeRecord> r = service_->AttachVolume(v.id, Live(), {});
  EXPECT_THAT(r, StatusIsWith(absl::StatusCode::kInternal, "Invalid password"));
  ExpectNotAttached(v);
}

TEST_F(AttachTest, MissingSecretIsLibvirtsErrorAndTheDefinedSecretIsRemoved) {
  VolumeRecord v = Create("no-secret");
  absl::StatusOr<AttachPlan> plan = service_->PlanAttach(v.id, {});
  ASSERT_TRUE(plan.ok());
  const std::string other = "5d5d5d5d-0000-4000-8000-000000000000";
  const size_t at = plan->disk_xml.find(v.encryption_key_id);
  plan->disk_xml.replace(at, other.size(), other);
  absl::Status s = attacher_->Attach(*plan, Live());
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kNotFound, "secret"));
  EXPECT_FALSE(probe_.SecretExists(v.encryption_key_id));
  EXPECT_EQ(probe_.DomainXml(kDomain, false).find(v.location.path), std::string::npos);
}

TEST_F(AttachTest, ImpossibleCombinationsAreRefusedBeforeLibvirt) {
  VolumeRecord luks2;
  luks2.id = "luks2-qemu";
  luks2.host = "host-a";
  luks2.location = VolumeLocation::Path(tmp_.File("luks2"));
  luks2.size_bytes = kSize;
  luks2.encryption.format = LuksFormat::kLuks2;
  luks2.encryption_key_id = "11111111-2222-4333-8444-555555555555";
  luks2.status = VolumeStatus::kAvailable;
  ASSERT_TRUE(store_->CreateVolume(luks2).ok());
  EXPECT_THAT(service_->AttachVolume(luks2.id, Live(), {}),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "LUKS1"));

  VolumeRecord rbd = luks2;
  rbd.id = "rbd-librbd";
  rbd.location = VolumeLocation::Rbd("volumes", "rbd-librbd");
  rbd.encryption.engine = EncryptionEngine::kLibrbd;
  ASSERT_TRUE(store_->CreateVolume(rbd).ok());
  EXPECT_THAT(service_->AttachVolume(rbd.id, Live(), {}),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "hot-plug"));
  EXPECT_EQ(probe_.SecretCount(), 0);
  EXPECT_EQ(store_->GetVolume(rbd.id)->status, VolumeStatus::kAvailable);
}

TEST_F(AttachTest, MissingVolumeOrDomain) {
  EXPECT_THAT(service_->AttachVolume("ghost", Live(), {}), StatusIs(absl::StatusCode::kNotFound));
  VolumeRecord v = Create("no-domain");
  AttachTarget nowhere;
  nowhere.domain = "no-such-domain";
  EXPECT_THAT(service_->AttachVolume(v.id, nowhere, {}),
              StatusIsWith(absl::StatusCode::kNotFound, "no-such-domain"));
  ExpectNotAttached(v);
}

TEST_F(AttachTest, UnreachableLibvirtdIsUnavailable) {
  EXPECT_THAT(Attacher::Connect("qemu:///system?socket=/nonexistent/libvirt-sock"),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(AttachTest, SecondAttachIsRefusedAndDetachOfDetachedIsClear) {
  VolumeRecord v = Create("twice");
  ASSERT_TRUE(service_->AttachVolume(v.id, Live(), {}).ok());
  EXPECT_THAT(service_->AttachVolume(v.id, Live(), {}),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "multi-attached"));
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  EXPECT_THAT(service_->DetachVolume(v.id), StatusIs(absl::StatusCode::kFailedPrecondition));
  ExpectNotAttached(v);
}

TEST_F(AttachTest, DiskRemovedBehindOurBackStillDetachesCleanly) {
  VolumeRecord v = Create("gone");
  ASSERT_TRUE(service_->AttachVolume(v.id, Live(), {}).ok());
  ASSERT_TRUE(attacher_->Detach(v.id, "sdb", Live()).ok());  // someone else
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  ExpectNotAttached(v);
}

// A volume attached on castellan's fixed key, then moved to a key of its
// own while attached: the disk keeps its secret (the all-zeros UUID) and
// keeps working; detach removes that secret, not one named by the new id.
TEST_F(AttachTest, DetachAfterTheKeyMovedWhileAttachedRemovesTheSecretInUse) {
  std::unique_ptr<KeyManager> fixed =
      NewFixedKeyManager(SecretBytes::Random(32).value(), NullLogger());
  std::unique_ptr<VolumeService> on_fixed_key = ServiceOver(fixed.get(), store_.get());
  CreateVolumeRequest r;
  r.id = "fixed-1";
  r.location = VolumeLocation::Path(tmp_.File(r.id));
  r.size_bytes = kSize;
  ASSERT_TRUE(on_fixed_key->CreateVolume(r).ok());
  ASSERT_TRUE(on_fixed_key->AttachVolume(r.id, Live(), {}).ok());
  ASSERT_TRUE(probe_.SecretExists(kFixedKeyId));

  KeyMigrationOptions m;
  m.host = "host-a";
  absl::StatusOr<KeyMigrationReport> report =
      MigrateFixedKeyItems(*store_, fixed.get(), *keys_, m, NullLogger());
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->migrated, 1);
  const VolumeRecord moved = store_->GetVolume(r.id).value();
  ASSERT_NE(moved.encryption_key_id, kFixedKeyId);
  // Still attached and decrypted through the secret it was given.
  const std::string wrote = probe_.Hmp(kDomain, "qemu-io -d scsi0-0-0-1 \"write -P 0x5a 0 1M\"");
  EXPECT_EQ(wrote.find("rror"), std::string::npos) << wrote;

  ASSERT_TRUE(service_->DetachVolume(r.id).ok());
  EXPECT_FALSE(probe_.SecretExists(kFixedKeyId));
  ExpectNotAttached(moved);
  // Attached again, it gets a secret for its own key, which QEMU opens.
  ASSERT_TRUE(service_->AttachVolume(r.id, Live(), {}).ok());
  EXPECT_TRUE(probe_.SecretExists(moved.encryption_key_id));
  const std::string read = probe_.Hmp(kDomain, "qemu-io -d scsi0-0-0-1 \"read -P 0x5a 0 1M\"");
  EXPECT_EQ(read.find("rror"), std::string::npos) << read;
  EXPECT_EQ(read.find("Pattern verification failed"), std::string::npos) << read;
  ASSERT_TRUE(service_->DetachVolume(r.id).ok());
  ExpectNotAttached(moved);
}

TEST_F(AttachTest, CrashDuringAttachIsUndoneByReconcile) {
  VolumeRecord v = Create("crash");
  const pid_t pid = fork();
  if (pid == 0) {
    // Dies after the disk is attached, before the attachment is marked.
    faults_.Inject("store.UpdateAttachment", 1, FaultPlan::Action::kCrash);
    (void)service_->AttachVolume(v.id, Live(), {});
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 42);
  EXPECT_TRUE(probe_.SecretExists(v.encryption_key_id));
  absl::StatusOr<int> acted = service_->Reconcile(0);
  ASSERT_TRUE(acted.ok()) << acted.status();
  EXPECT_EQ(*acted, 1);
  ExpectNotAttached(v);
}

TEST_F(AttachTest, TwoHundredCyclesLeakNoSecretsFdsOrMemory) {
  VolumeRecord v = Create("cycles");
  // Warm up libvirt's and QEMU's one-time allocations.
  ASSERT_TRUE(service_->AttachVolume(v.id, Live(), {}).ok());
  ASSERT_TRUE(service_->DetachVolume(v.id).ok());
  const int fds = OpenFds();
  const long rss = RssKiB();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(service_->AttachVolume(v.id, Live(), {}).ok()) << "cycle " << i;
    ASSERT_TRUE(service_->DetachVolume(v.id).ok()) << "cycle " << i;
  }
  EXPECT_EQ(probe_.SecretCount(), 0);
  EXPECT_EQ(OpenFds(), fds);
#ifndef __SANITIZE_ADDRESS__
  // Under ASan freed memory sits in its quarantine, so RSS grows by design;
  // there LeakSanitizer checks for leaks at exit instead.
  EXPECT_LT(RssKiB() - rss, 4096) << "RSS grew by more than 4 MiB over 200 cycles";
#else
  (void)rss;
#endif
  ExpectNotAttached(v);
}

}  // namespace
}  // namespace volcrypt
