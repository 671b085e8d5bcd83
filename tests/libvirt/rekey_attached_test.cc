// Key rotation of a volume attached to a running domain (a private libvirtd,
// real QEMU): the libvirt secret follows the key, so a destroy and start of
// the domain (what a reboot, a migration or a re-attach does: a new open of
// the header) decrypts the disk. A kill between the secret update and the
// record, then Reconcile, leaves secret, record and header agreeing too.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/libvirt/libvirt_testbed.h"
#include "tests/support/faults.h"
#include "tests/support/libvirt_service_fixture.h"
#include "tests/support/test_support.h"
#include "volcrypt/attacher.h"
#include "volcrypt/file_key_manager.h"
#include "volcrypt/mapped_backend.h"
#include "volcrypt/volume_service.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::FaultPlan;
using ::volcrypt::testing::LibvirtServiceFixture;
using ::volcrypt::testing::LibvirtTestbed;
using ::volcrypt::testing::RunCommand;
using ::volcrypt::testing::StatusIs;

::testing::Environment* const kTestbed = ::testing::AddGlobalTestEnvironment(new LibvirtTestbed);

constexpr uint64_t kSize = 32 << 20;
constexpr char kDomain[] = "volcrypt-rekey";

class RekeyAttachedTest : public LibvirtServiceFixture {
 protected:
  RekeyAttachedTest() : LibvirtServiceFixture(kDomain) {}

  // A volume attached live and to the persistent config (so that a start
  // opens it again), with a pattern written through the guest's QEMU.
  VolumeRecord AttachedVolume(const std::string& id) {
    CreateVolumeRequest r;
    r.id = id;
    r.location = VolumeLocation::Path(tmp_.File(id));
    r.size_bytes = kSize;
    absl::StatusOr<VolumeRecord> v = service_->CreateVolume(r);
    EXPECT_TRUE(v.ok()) << v.status();
    AttachTarget t;
    t.domain = kDomain;
    t.live = true;
    t.config = true;
    absl::StatusOr<VolumeRecord> a = service_->AttachVolume(id, t, {});
    EXPECT_TRUE(a.ok()) << a.status();
    const std::string wrote =
        probe_.Hmp(kDomain, "qemu-io -d scsi0-0-0-1 \"write -P 0xd4 0 1M\"");
    EXPECT_EQ(wrote.find("rror"), std::string::npos) << wrote;
    return *v;
  }

  // Destroy and start: QEMU opens the header again with the secret's value.
  void ExpectRestartOpensTheDisk() {
    EXPECT_EQ(probe_.Restart(kDomain), "") << "the domain did not start with its disk";
    EXPECT_NE(probe_.Hmp(kDomain, "info block").find("(luks, encrypted)"), std::string::npos);
    const std::string read = probe_.Hmp(kDomain, "qemu-io -d scsi0-0-0-1 \"read -P 0xd4 0 1M\"");
    EXPECT_EQ(read.find("Pattern verification failed"), std::string::npos) << read;
    EXPECT_EQ(read.find("rror"), std::string::npos) << read;
  }

  bool CryptsetupOpens(const VolumeRecord& v, const std::string& key_id) {
    return CryptsetupOpensWith(v, HexPassphrase(keys_->GetKey(key_id).value()));
  }
  bool CryptsetupOpensWith(const VolumeRecord& v, const SecretBytes& pass) {
    return RunCommand({"cryptsetup", "open", "--test-passphrase", "--key-file", "/dev/fd/3",
                       v.location.path}, &pass).exit_code == 0;
  }
};

TEST_F(RekeyAttachedTest, RekeyWhileRunningThenDestroyAndStartOpensTheDisk) {
  const VolumeRecord v = AttachedVolume("a1");
  const SecretBytes old_pass = HexPassphrase(keys_->GetKey(v.encryption_key_id).value());
  absl::StatusOr<VolumeRecord> after = service_->RotateKey("a1");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status, VolumeStatus::kInUse);
  EXPECT_NE(after->encryption_key_id, v.encryption_key_id);
  EXPECT_GE(faults_.calls("attacher.SetSecretValue"), 1);
  ExpectRestartOpensTheDisk();
  EXPECT_TRUE(CryptsetupOpens(v, after->encryption_key_id));
  EXPECT_FALSE(CryptsetupOpensWith(v, old_pass));
  EXPECT_THAT(keys_->GetKey(v.encryption_key_id), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_TRUE(service_->DetachVolume("a1").ok());
  EXPECT_EQ(probe_.SecretCount(), 0);
}

TEST_F(RekeyAttachedTest, ASecretThatCannotBeUpdatedUndoesTheRotation) {
  const VolumeRecord v = AttachedVolume("a2");
  faults_.Inject("attacher.SetSecretValue", 1, FaultPlan::Action::kFail);
  EXPECT_THAT(service_->RotateKey("a2"), StatusIs(absl::StatusCode::kUnavailable));
  const VolumeRecord now = store_->GetVolume("a2").value();
  EXPECT_EQ(now.status, VolumeStatus::kInUse);
  EXPECT_EQ(now.encryption_key_id, v.encryption_key_id);
  ExpectRestartOpensTheDisk();
  ASSERT_TRUE(service_->DetachVolume("a2").ok());
}

// Killed after the secret took the new passphrase, before the record did:
// Reconcile keeps the recorded (old) key, and so sets the secret back before
// the new keyslot goes.
TEST_F(RekeyAttachedTest, AKillAfterTheSecretMovedIsReconciledSecretFirst) {
  const VolumeRecord v = AttachedVolume("a3");
  const pid_t pid = fork();
  if (pid == 0) {
    faults_.Inject("store.SwapRotationKey", 1, FaultPlan::Action::kCrash);
    (void)service_->RotateKey("a3");
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 42);
  EXPECT_EQ(store_->GetVolume("a3")->status, VolumeStatus::kRekeying);
  absl::StatusOr<int> acted = service_->Reconcile(0);
  ASSERT_TRUE(acted.ok()) << acted.status();
  const VolumeRecord now = store_->GetVolume("a3").value();
  EXPECT_EQ(now.status, VolumeStatus::kInUse);
  EXPECT_EQ(now.encryption_key_id, v.encryption_key_id);
  EXPECT_TRUE(CryptsetupOpens(v, v.encryption_key_id));
  ExpectRestartOpensTheDisk();
  ASSERT_TRUE(service_->DetachVolume("a3").ok());
}

TEST_F(RekeyAttachedTest, AnAttachedVolumeIsNotRotatedWithoutLibvirt) {
  AttachedVolume("a4");
  VolumeServiceOptions o;
  o.keys = keys_.get();
  o.store = store_.get();
  o.mapped = mapped_.get();
  o.host = "host-a";
  o.logger = NullLogger();
  auto blind = std::move(VolumeService::Create(o).value());
  EXPECT_THAT(blind->RotateKey("a4"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_->GetVolume("a4")->status, VolumeStatus::kInUse);
  ASSERT_TRUE(service_->DetachVolume("a4").ok());
}

}  // namespace
}  // namespace volcrypt
